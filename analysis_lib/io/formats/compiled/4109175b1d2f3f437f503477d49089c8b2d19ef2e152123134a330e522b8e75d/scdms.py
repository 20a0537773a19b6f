# This is a generated file! Please edit source .ksy file and use kaitai-struct-compiler to rebuild
# type: ignore

import kaitaistruct
from kaitaistruct import KaitaiStruct, KaitaiStream, BytesIO
from enum import IntEnum


if getattr(kaitaistruct, 'API_VERSION', (0, 9)) < (0, 11):
    raise Exception("Incompatible Kaitai Struct Python API: 0.11 or later is required, but you have %s" % (kaitaistruct.__version__))

class Scdms(KaitaiStruct):

    class TriggerTypes(IntEnum):
        physics = 1
        borr = 2
        irr = 3
        eorr = 4
        bcr = 5
        borts = 6
        eorts = 7
    def __init__(self, _io, _parent=None, _root=None):
        super(Scdms, self).__init__(_io)
        self._parent = _parent
        self._root = _root or self
        self._read()

    def _read(self):
        self.scdms_hdr = Scdms.ScdmsHeader(self._io, self, self._root)
        self.trigger_blk = []
        for i in range(self.scdms_hdr.total_triggers):
            self.trigger_blk.append(Scdms.TriggerBlock(self._io, self, self._root))

        self.scdms_ftr = Scdms.ScdmsFooter(self._io, self, self._root)


    def _fetch_instances(self):
        pass
        self.scdms_hdr._fetch_instances()
        for i in range(len(self.trigger_blk)):
            pass
            self.trigger_blk[i]._fetch_instances()

        self.scdms_ftr._fetch_instances()

    class ChannelBlock(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Scdms.ChannelBlock, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.channel_packed = self._io.read_u4le()
            self.num_pre_pulse_samples = self._io.read_u4le()
            self.num_on_pulse_samples = self._io.read_u4le()
            self.num_post_pulse_samples = self._io.read_u4le()
            self.sample_rate = self._io.read_u2le()
            self.downsample_factor = self._io.read_u2le()
            self.sample = []
            for i in range((self.num_pre_pulse_samples + self.num_on_pulse_samples) + self.num_post_pulse_samples):
                self.sample.append(self._io.read_u2le())



        def _fetch_instances(self):
            pass
            for i in range(len(self.sample)):
                pass


        @property
        def channel_flag(self):
            if hasattr(self, '_m_channel_flag'):
                return self._m_channel_flag

            self._m_channel_flag = (self.channel_packed & 4026531840) >> 28
            return getattr(self, '_m_channel_flag', None)

        @property
        def channel_num(self):
            if hasattr(self, '_m_channel_num'):
                return self._m_channel_num

            self._m_channel_num = (self.channel_packed & 60) >> 2
            return getattr(self, '_m_channel_num', None)

        @property
        def channel_type(self):
            if hasattr(self, '_m_channel_type'):
                return self._m_channel_type

            self._m_channel_type = self.channel_packed & 1
            return getattr(self, '_m_channel_type', None)

        @property
        def has_baseline_control(self):
            if hasattr(self, '_m_has_baseline_control'):
                return self._m_has_baseline_control

            self._m_has_baseline_control = (self.channel_packed & 2) >> 1
            return getattr(self, '_m_has_baseline_control', None)

        @property
        def pre_trigger_offset(self):
            if hasattr(self, '_m_pre_trigger_offset'):
                return self._m_pre_trigger_offset

            self._m_pre_trigger_offset = (self.channel_packed & 268435392) >> 7
            return getattr(self, '_m_pre_trigger_offset', None)


    class DetectorBlock(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Scdms.DetectorBlock, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.detector_hdr = Scdms.DetectorHeader(self._io, self, self._root)
            self.readout_hdr = Scdms.ReadoutHeader(self._io, self, self._root)
            self.num_channels_hdr = Scdms.NumChannelsHeader(self._io, self, self._root)
            self.channel_blk = []
            for i in range(self.num_channels_hdr.num_channels):
                self.channel_blk.append(Scdms.ChannelBlock(self._io, self, self._root))



        def _fetch_instances(self):
            pass
            self.detector_hdr._fetch_instances()
            self.readout_hdr._fetch_instances()
            self.num_channels_hdr._fetch_instances()
            for i in range(len(self.channel_blk)):
                pass
                self.channel_blk[i]._fetch_instances()



    class DetectorHeader(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Scdms.DetectorHeader, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.detector_hdr_packed = self._io.read_u4le()
            self.dcrc1_serial_nbr = self._io.read_u1()
            self.dcrc1_version = self._io.read_u1()
            self.dcrc2_serial_nbr = self._io.read_u1()
            self.dcrc2_version = self._io.read_u1()


        def _fetch_instances(self):
            pass

        @property
        def det_id(self):
            if hasattr(self, '_m_det_id'):
                return self._m_det_id

            self._m_det_id = (self.detector_hdr_packed & 1020) >> 2
            return getattr(self, '_m_det_id', None)

        @property
        def detector_header(self):
            if hasattr(self, '_m_detector_header'):
                return self._m_detector_header

            self._m_detector_header = (self.detector_hdr_packed & 4026531840) >> 28
            return getattr(self, '_m_detector_header', None)

        @property
        def detector_type(self):
            if hasattr(self, '_m_detector_type'):
                return self._m_detector_type

            self._m_detector_type = (self.detector_hdr_packed & 268434432) >> 10
            return getattr(self, '_m_detector_type', None)

        @property
        def index(self):
            if hasattr(self, '_m_index'):
                return self._m_index

            self._m_index = self.detector_hdr_packed & 3
            return getattr(self, '_m_index', None)


    class Detectors(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Scdms.Detectors, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.n_detectors_packed = self._io.read_u4le()


        def _fetch_instances(self):
            pass

        @property
        def detectors_in_event(self):
            if hasattr(self, '_m_detectors_in_event'):
                return self._m_detectors_in_event

            self._m_detectors_in_event = self.n_detectors_packed & 268435455
            return getattr(self, '_m_detectors_in_event', None)

        @property
        def num_det_header(self):
            if hasattr(self, '_m_num_det_header'):
                return self._m_num_det_header

            self._m_num_det_header = (self.n_detectors_packed & 4026531840) >> 28
            return getattr(self, '_m_num_det_header', None)


    class EventHeader(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Scdms.EventHeader, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.packed_event_size = self._io.read_u4le()
            self.trigger_id = self._io.read_u4le()
            self.event_number = self._io.read_u4le()
            self.packed_type = self._io.read_u4le()
            self.global_timestamp_low = self._io.read_u4le()
            self.global_timestamp_high = self._io.read_u4le()
            self.packed_poll_end = self._io.read_u4le()
            self.poll_time_fraction = self._io.read_u4le()


        def _fetch_instances(self):
            pass

        @property
        def event_size(self):
            if hasattr(self, '_m_event_size'):
                return self._m_event_size

            self._m_event_size = self.packed_event_size & 268435455
            return getattr(self, '_m_event_size', None)

        @property
        def poll_cycle_end_time(self):
            if hasattr(self, '_m_poll_cycle_end_time'):
                return self._m_poll_cycle_end_time

            self._m_poll_cycle_end_time = self.packed_poll_end & 65535
            return getattr(self, '_m_poll_cycle_end_time', None)

        @property
        def readout_bitmask(self):
            if hasattr(self, '_m_readout_bitmask'):
                return self._m_readout_bitmask

            self._m_readout_bitmask = (self.packed_type & 4294967040) >> 8
            return getattr(self, '_m_readout_bitmask', None)

        @property
        def trig_header(self):
            if hasattr(self, '_m_trig_header'):
                return self._m_trig_header

            self._m_trig_header = (self.packed_event_size & 4026531840) >> 28
            return getattr(self, '_m_trig_header', None)

        @property
        def trigger_type(self):
            if hasattr(self, '_m_trigger_type'):
                return self._m_trigger_type

            self._m_trigger_type = KaitaiStream.resolve_enum(Scdms.TriggerTypes, self.packed_type & 15)
            return getattr(self, '_m_trigger_type', None)


    class NumChannelsHeader(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Scdms.NumChannelsHeader, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.num_channels_packed = self._io.read_u4le()


        def _fetch_instances(self):
            pass

        @property
        def channels_header(self):
            if hasattr(self, '_m_channels_header'):
                return self._m_channels_header

            self._m_channels_header = (self.num_channels_packed & 4026531840) >> 28
            return getattr(self, '_m_channels_header', None)

        @property
        def num_channels(self):
            if hasattr(self, '_m_num_channels'):
                return self._m_num_channels

            self._m_num_channels = self.num_channels_packed & 268435455
            return getattr(self, '_m_num_channels', None)


    class NumPrimitiveHeader(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Scdms.NumPrimitiveHeader, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.packed_primitive_num = self._io.read_u4le()
            self.entry_length = self._io.read_u4le()


        def _fetch_instances(self):
            pass

        @property
        def num_primitives(self):
            if hasattr(self, '_m_num_primitives'):
                return self._m_num_primitives

            self._m_num_primitives = self.packed_primitive_num & 268435455
            return getattr(self, '_m_num_primitives', None)

        @property
        def prim_header(self):
            if hasattr(self, '_m_prim_header'):
                return self._m_prim_header

            self._m_prim_header = (self.packed_primitive_num & 4026531840) >> 28
            return getattr(self, '_m_prim_header', None)


    class NumSduHeader(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Scdms.NumSduHeader, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.num_sdu_packed = self._io.read_u4le()


        def _fetch_instances(self):
            pass

        @property
        def num_sdu(self):
            if hasattr(self, '_m_num_sdu'):
                return self._m_num_sdu

            self._m_num_sdu = self.num_sdu_packed & 268435455
            return getattr(self, '_m_num_sdu', None)

        @property
        def num_sdu_flag(self):
            if hasattr(self, '_m_num_sdu_flag'):
                return self._m_num_sdu_flag

            self._m_num_sdu_flag = (self.num_sdu_packed & 4026531840) >> 28
            return getattr(self, '_m_num_sdu_flag', None)


    class PrimitiveBlock(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Scdms.PrimitiveBlock, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.packed_primitive = self._io.read_u4le()
            self.rt_issue_time = self._io.read_u4le()
            self.rt_run_time_fraction_packed = self._io.read_u4le()
            self.prim_trig_time = self._io.read_u2le()
            self.rt_run_time = self._io.read_u2le()
            self.trigger_mask_packed = self._io.read_u4le()
            self.trig_word = self._io.read_u2le()
            self.prim_blank = self._io.read_u2le()
            self.peak_amplitude = self._io.read_u4le()


        def _fetch_instances(self):
            pass

        @property
        def det_id(self):
            if hasattr(self, '_m_det_id'):
                return self._m_det_id

            self._m_det_id = (self.packed_primitive & 1020) >> 2
            return getattr(self, '_m_det_id', None)

        @property
        def index(self):
            if hasattr(self, '_m_index'):
                return self._m_index

            self._m_index = self.packed_primitive & 3
            return getattr(self, '_m_index', None)

        @property
        def pileup(self):
            if hasattr(self, '_m_pileup'):
                return self._m_pileup

            self._m_pileup = (self.packed_primitive & 3072) >> 10
            return getattr(self, '_m_pileup', None)

        @property
        def prim_dcrc_header(self):
            if hasattr(self, '_m_prim_dcrc_header'):
                return self._m_prim_dcrc_header

            self._m_prim_dcrc_header = (self.packed_primitive & 4026531840) >> 28
            return getattr(self, '_m_prim_dcrc_header', None)

        @property
        def rt_run_time_fraction(self):
            if hasattr(self, '_m_rt_run_time_fraction'):
                return self._m_rt_run_time_fraction

            self._m_rt_run_time_fraction = self.rt_run_time_fraction_packed & 16777215
            return getattr(self, '_m_rt_run_time_fraction', None)

        @property
        def trig_mask(self):
            if hasattr(self, '_m_trig_mask'):
                return self._m_trig_mask

            self._m_trig_mask = (self.trigger_mask_packed & 4278190080) >> 24
            return getattr(self, '_m_trig_mask', None)

        @property
        def trig_status(self):
            if hasattr(self, '_m_trig_status'):
                return self._m_trig_status

            self._m_trig_status = (self.packed_primitive & 61440) >> 12
            return getattr(self, '_m_trig_status', None)

        @property
        def trig_time_frac(self):
            if hasattr(self, '_m_trig_time_frac'):
                return self._m_trig_time_frac

            self._m_trig_time_frac = self.trigger_mask_packed & 16777215
            return getattr(self, '_m_trig_time_frac', None)


    class ReadoutHeader(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Scdms.ReadoutHeader, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.readout_hdr_packed_1 = self._io.read_u4le()
            self.readout_hdr_packed_2 = self._io.read_u4le()
            self.waveform_read_start_time = self._io.read_u2le()
            self.waveform_read_end_time = self._io.read_u2le()
            self.waveform_read_start_time_fraction = self._io.read_u4le()
            self.waveform_read_end_time_fraction = self._io.read_u4le()


        def _fetch_instances(self):
            pass

        @property
        def has_thermometry_readout(self):
            if hasattr(self, '_m_has_thermometry_readout'):
                return self._m_has_thermometry_readout

            self._m_has_thermometry_readout = (self.readout_hdr_packed_2 & 268435456) >> 31
            return getattr(self, '_m_has_thermometry_readout', None)

        @property
        def readout_header(self):
            if hasattr(self, '_m_readout_header'):
                return self._m_readout_header

            self._m_readout_header = (self.readout_hdr_packed_1 & 4026531840) >> 28
            return getattr(self, '_m_readout_header', None)

        @property
        def readout_status(self):
            if hasattr(self, '_m_readout_status'):
                return self._m_readout_status

            self._m_readout_status = (self.readout_hdr_packed_1 & 268369920) >> 16
            return getattr(self, '_m_readout_status', None)

        @property
        def series_time(self):
            if hasattr(self, '_m_series_time'):
                return self._m_series_time

            self._m_series_time = self.readout_hdr_packed_1 & 65535
            return getattr(self, '_m_series_time', None)

        @property
        def series_time_fraction(self):
            if hasattr(self, '_m_series_time_fraction'):
                return self._m_series_time_fraction

            self._m_series_time_fraction = self.readout_hdr_packed_2 & 65535
            return getattr(self, '_m_series_time_fraction', None)


    class ScdmsFooter(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Scdms.ScdmsFooter, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.preceeding_triggers_packed = self._io.read_u4le()


        def _fetch_instances(self):
            pass

        @property
        def preceeding_triggers_flag(self):
            if hasattr(self, '_m_preceeding_triggers_flag'):
                return self._m_preceeding_triggers_flag

            self._m_preceeding_triggers_flag = (self.preceeding_triggers_packed & 4026531840) >> 28
            return getattr(self, '_m_preceeding_triggers_flag', None)

        @property
        def preceeding_triggers_num(self):
            if hasattr(self, '_m_preceeding_triggers_num'):
                return self._m_preceeding_triggers_num

            self._m_preceeding_triggers_num = self.preceeding_triggers_packed & 268435455
            return getattr(self, '_m_preceeding_triggers_num', None)


    class ScdmsHeader(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Scdms.ScdmsHeader, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.packed = self._io.read_u4le()


        def _fetch_instances(self):
            pass

        @property
        def format_version(self):
            if hasattr(self, '_m_format_version'):
                return self._m_format_version

            self._m_format_version = (self.packed & 268431360) >> 12
            return getattr(self, '_m_format_version', None)

        @property
        def overall_header(self):
            if hasattr(self, '_m_overall_header'):
                return self._m_overall_header

            self._m_overall_header = (self.packed & 4026531840) >> 28
            return getattr(self, '_m_overall_header', None)

        @property
        def total_triggers(self):
            if hasattr(self, '_m_total_triggers'):
                return self._m_total_triggers

            self._m_total_triggers = self.packed & 4095
            return getattr(self, '_m_total_triggers', None)


    class SduBlock(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Scdms.SduBlock, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.sdu_readout_header_packed = self._io.read_u4le()
            self.sdu_series_time_fraction_packed = self._io.read_u4le()
            self.sdu_read_start_time = self._io.read_u2le()
            self.sdu_read_end_time = self._io.read_u2le()
            self.sdu_read_start_time_fraction = self._io.read_u4le()
            self.sdu_read_end_time_fraction = self._io.read_u4le()
            self.sdu_num_channels_header_packed = self._io.read_u4le()
            self.sdu_channel_blk = []
            for i in range(self.num_sdu_channels):
                self.sdu_channel_blk.append(Scdms.SduChannelBlock(self._io, self, self._root))



        def _fetch_instances(self):
            pass
            for i in range(len(self.sdu_channel_blk)):
                pass
                self.sdu_channel_blk[i]._fetch_instances()


        @property
        def num_sdu_channels(self):
            if hasattr(self, '_m_num_sdu_channels'):
                return self._m_num_sdu_channels

            self._m_num_sdu_channels = self.sdu_num_channels_header_packed & 16777215
            return getattr(self, '_m_num_sdu_channels', None)

        @property
        def num_sdu_channels_flag(self):
            if hasattr(self, '_m_num_sdu_channels_flag'):
                return self._m_num_sdu_channels_flag

            self._m_num_sdu_channels_flag = (self.sdu_num_channels_header_packed & 4026531840) >> 28
            return getattr(self, '_m_num_sdu_channels_flag', None)

        @property
        def sdu_readout_flag(self):
            if hasattr(self, '_m_sdu_readout_flag'):
                return self._m_sdu_readout_flag

            self._m_sdu_readout_flag = (self.sdu_readout_header_packed & 4026531840) >> 28
            return getattr(self, '_m_sdu_readout_flag', None)

        @property
        def sdu_readout_status(self):
            if hasattr(self, '_m_sdu_readout_status'):
                return self._m_sdu_readout_status

            self._m_sdu_readout_status = (self.sdu_readout_header_packed & 268369920) >> 16
            return getattr(self, '_m_sdu_readout_status', None)

        @property
        def sdu_series_time(self):
            if hasattr(self, '_m_sdu_series_time'):
                return self._m_sdu_series_time

            self._m_sdu_series_time = self.sdu_readout_header_packed & 65535
            return getattr(self, '_m_sdu_series_time', None)

        @property
        def sdu_series_time_fraction(self):
            if hasattr(self, '_m_sdu_series_time_fraction'):
                return self._m_sdu_series_time_fraction

            self._m_sdu_series_time_fraction = self.sdu_readout_header_packed & 16777215
            return getattr(self, '_m_sdu_series_time_fraction', None)


    class SduChannelBlock(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Scdms.SduChannelBlock, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.sdu_channel_header_packed = self._io.read_u4le()
            self.sdu_num_samples = self._io.read_u4le()
            self.blank = self._io.read_u2le()
            self.sample_rate = self._io.read_u2le()
            self.sdu_channel_sample = []
            for i in range(self.sdu_num_samples):
                self.sdu_channel_sample.append(self._io.read_u2le())



        def _fetch_instances(self):
            pass
            for i in range(len(self.sdu_channel_sample)):
                pass


        @property
        def sdu_channel_flag(self):
            if hasattr(self, '_m_sdu_channel_flag'):
                return self._m_sdu_channel_flag

            self._m_sdu_channel_flag = (self.sdu_channel_header_packed & 4026531840) >> 28
            return getattr(self, '_m_sdu_channel_flag', None)

        @property
        def sdu_channel_num(self):
            if hasattr(self, '_m_sdu_channel_num'):
                return self._m_sdu_channel_num

            self._m_sdu_channel_num = self.sdu_channel_header_packed & 7
            return getattr(self, '_m_sdu_channel_num', None)

        @property
        def sdu_channel_type(self):
            if hasattr(self, '_m_sdu_channel_type'):
                return self._m_sdu_channel_type

            self._m_sdu_channel_type = (self.sdu_channel_header_packed & 56) >> 3
            return getattr(self, '_m_sdu_channel_type', None)

        @property
        def sdu_pre_trigger_offset(self):
            if hasattr(self, '_m_sdu_pre_trigger_offset'):
                return self._m_sdu_pre_trigger_offset

            self._m_sdu_pre_trigger_offset = (self.sdu_channel_header_packed & 268435392) >> 7
            return getattr(self, '_m_sdu_pre_trigger_offset', None)


    class SduPrimitiveBlock(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Scdms.SduPrimitiveBlock, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.sdu_block_header = self._io.read_u4le()
            self.rt_issue_ut = self._io.read_u4le()
            self.rt_run_time_fraction_packed = self._io.read_u4le()
            self.trigger_time = self._io.read_u2le()
            self.rt_run_time = self._io.read_u2le()
            self.trigger_time_fraction_packed = self._io.read_u4le()
            self.trigger_word = self._io.read_u2le()
            self.blank = self._io.read_u4le()
            self.peak_amplitude = self._io.read_u2le()


        def _fetch_instances(self):
            pass

        @property
        def rt_run_time_fraction(self):
            if hasattr(self, '_m_rt_run_time_fraction'):
                return self._m_rt_run_time_fraction

            self._m_rt_run_time_fraction = self.rt_run_time_fraction_packed & 16777215
            return getattr(self, '_m_rt_run_time_fraction', None)

        @property
        def trigger_time_fraction(self):
            if hasattr(self, '_m_trigger_time_fraction'):
                return self._m_trigger_time_fraction

            self._m_trigger_time_fraction = self.trigger_time_fraction_packed & 16777215
            return getattr(self, '_m_trigger_time_fraction', None)


    class SduPrimitiveHeader(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Scdms.SduPrimitiveHeader, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.sdu_num_primitive_packed = self._io.read_u4le()
            self.sdu_entry_length = self._io.read_u4le()


        def _fetch_instances(self):
            pass

        @property
        def has_sdu_data(self):
            if hasattr(self, '_m_has_sdu_data'):
                return self._m_has_sdu_data

            self._m_has_sdu_data = (self.sdu_num_primitive_packed & 16777216) >> 27
            return getattr(self, '_m_has_sdu_data', None)

        @property
        def num_sdu_primitives(self):
            if hasattr(self, '_m_num_sdu_primitives'):
                return self._m_num_sdu_primitives

            self._m_num_sdu_primitives = self.sdu_num_primitive_packed & 134217727
            return getattr(self, '_m_num_sdu_primitives', None)

        @property
        def sdu_header(self):
            if hasattr(self, '_m_sdu_header'):
                return self._m_sdu_header

            self._m_sdu_header = (self.sdu_num_primitive_packed & 4026531840) >> 28
            return getattr(self, '_m_sdu_header', None)


    class TriggerBlock(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Scdms.TriggerBlock, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.event_hdr = Scdms.EventHeader(self._io, self, self._root)
            self.num_primitive_hdr = Scdms.NumPrimitiveHeader(self._io, self, self._root)
            self.primitive_blk = []
            for i in range(self.num_primitive_hdr.num_primitives):
                self.primitive_blk.append(Scdms.PrimitiveBlock(self._io, self, self._root))

            self.n_detectors = Scdms.Detectors(self._io, self, self._root)
            self.detector_blk = []
            for i in range(self.n_detectors.detectors_in_event):
                self.detector_blk.append(Scdms.DetectorBlock(self._io, self, self._root))

            self.sdu_primitive_hdr = Scdms.SduPrimitiveHeader(self._io, self, self._root)
            self.sdu_primitive_blk = []
            for i in range(self.sdu_primitive_hdr.num_sdu_primitives):
                self.sdu_primitive_blk.append(Scdms.SduPrimitiveBlock(self._io, self, self._root))

            self.num_sdu_hdr = Scdms.NumSduHeader(self._io, self, self._root)
            self.sdu_blk = []
            for i in range(self.num_sdu_hdr.num_sdu):
                self.sdu_blk.append(Scdms.SduBlock(self._io, self, self._root))



        def _fetch_instances(self):
            pass
            self.event_hdr._fetch_instances()
            self.num_primitive_hdr._fetch_instances()
            for i in range(len(self.primitive_blk)):
                pass
                self.primitive_blk[i]._fetch_instances()

            self.n_detectors._fetch_instances()
            for i in range(len(self.detector_blk)):
                pass
                self.detector_blk[i]._fetch_instances()

            self.sdu_primitive_hdr._fetch_instances()
            for i in range(len(self.sdu_primitive_blk)):
                pass
                self.sdu_primitive_blk[i]._fetch_instances()

            self.num_sdu_hdr._fetch_instances()
            for i in range(len(self.sdu_blk)):
                pass
                self.sdu_blk[i]._fetch_instances()




