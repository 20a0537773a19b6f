# This is a generated file! Please edit source .ksy file and use kaitai-struct-compiler to rebuild
# type: ignore

import kaitaistruct
from kaitaistruct import KaitaiStruct, KaitaiStream, BytesIO
import scdms


if getattr(kaitaistruct, 'API_VERSION', (0, 9)) < (0, 11):
    raise Exception("Incompatible Kaitai Struct Python API: 0.11 or later is required, but you have %s" % (kaitaistruct.__version__))

class Midas(KaitaiStruct):
    def __init__(self, _io, _parent=None, _root=None):
        super(Midas, self).__init__(_io)
        self._parent = _parent
        self._root = _root or self
        self._read()

    def _read(self):
        self.n_events = []
        i = 0
        while not self._io.is_eof():
            self.n_events.append(Midas.Event(self._io, self, self._root))
            i += 1



    def _fetch_instances(self):
        pass
        for i in range(len(self.n_events)):
            pass
            self.n_events[i]._fetch_instances()


    class Bank16(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Midas.Bank16, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.name = (self._io.read_bytes(4)).decode(u"UTF-8")
            self.type = self._io.read_u2le()
            self.size = self._io.read_u2le()
            self.data = scdms.Scdms(self._io)


        def _fetch_instances(self):
            pass
            self.data._fetch_instances()


    class Bank32(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Midas.Bank32, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.name = (self._io.read_bytes(4)).decode(u"UTF-8")
            self.type = self._io.read_u4le()
            self.size = self._io.read_u4le()
            self.data = scdms.Scdms(self._io)


        def _fetch_instances(self):
            pass
            self.data._fetch_instances()


    class BankHdr(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Midas.BankHdr, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.all_bank_size = self._io.read_u4le()
            self.flags = self._io.read_u4le()


        def _fetch_instances(self):
            pass


    class Event(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Midas.Event, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.event_header = Midas.EventHdr(self._io, self, self._root)
            _on = self.event_header.event_id
            if _on == 32768:
                pass
                self.data_block = Midas.OdbDump(self._io, self, self._root)
            elif _on == 32769:
                pass
                self.data_block = Midas.OdbDump(self._io, self, self._root)
            else:
                pass
                self.data_block = Midas.EventData(self._io, self, self._root)


        def _fetch_instances(self):
            pass
            self.event_header._fetch_instances()
            _on = self.event_header.event_id
            if _on == 32768:
                pass
                self.data_block._fetch_instances()
            elif _on == 32769:
                pass
                self.data_block._fetch_instances()
            else:
                pass
                self.data_block._fetch_instances()


    class EventData(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Midas.EventData, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.bank_header = Midas.BankHdr(self._io, self, self._root)
            _on = self.bank_header.flags & 1 << 4
            if _on == 0:
                pass
                self.bank = Midas.Bank16(self._io, self, self._root)
            else:
                pass
                self.bank = Midas.Bank32(self._io, self, self._root)


        def _fetch_instances(self):
            pass
            self.bank_header._fetch_instances()
            _on = self.bank_header.flags & 1 << 4
            if _on == 0:
                pass
                self.bank._fetch_instances()
            else:
                pass
                self.bank._fetch_instances()


    class EventHdr(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Midas.EventHdr, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.event_id = self._io.read_u2le()
            self.trigger_mask = self._io.read_u2le()
            self.serial_number = self._io.read_u4le()
            self.time_stamp = self._io.read_u4le()
            self.evt_data_size = self._io.read_u4le()


        def _fetch_instances(self):
            pass


    class OdbDump(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(Midas.OdbDump, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.odb = self._io.read_bytes(self._parent.event_header.evt_data_size)


        def _fetch_instances(self):
            pass



