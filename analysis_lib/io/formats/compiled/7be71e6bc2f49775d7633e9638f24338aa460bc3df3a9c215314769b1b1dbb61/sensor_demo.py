# This is a generated file! Please edit source .ksy file and use kaitai-struct-compiler to rebuild
# type: ignore

import kaitaistruct
from kaitaistruct import KaitaiStruct, KaitaiStream, BytesIO
from enum import IntEnum


if getattr(kaitaistruct, 'API_VERSION', (0, 9)) < (0, 11):
    raise Exception("Incompatible Kaitai Struct Python API: 0.11 or later is required, but you have %s" % (kaitaistruct.__version__))

class SensorDemo(KaitaiStruct):

    class Kind(IntEnum):
        noise = 0
        pulse = 1
    def __init__(self, _io, _parent=None, _root=None):
        super(SensorDemo, self).__init__(_io)
        self._parent = _parent
        self._root = _root or self
        self._read()

    def _read(self):
        self.magic = self._io.read_bytes(4)
        if not self.magic == b"\x53\x4E\x53\x31":
            raise kaitaistruct.ValidationNotEqualError(b"\x53\x4E\x53\x31", self.magic, self._io, u"/seq/0")
        self.n_channels = self._io.read_u1()
        self.n_samples = self._io.read_u2le()
        self.sample_rate_hz = self._io.read_f4le()
        self.records = []
        i = 0
        while not self._io.is_eof():
            self.records.append(SensorDemo.Record(self._io, self, self._root))
            i += 1



    def _fetch_instances(self):
        pass
        for i in range(len(self.records)):
            pass
            self.records[i]._fetch_instances()


    class Record(KaitaiStruct):
        def __init__(self, _io, _parent=None, _root=None):
            super(SensorDemo.Record, self).__init__(_io)
            self._parent = _parent
            self._root = _root
            self._read()

        def _read(self):
            self.event = self._io.read_u4le()
            self.kind = KaitaiStream.resolve_enum(SensorDemo.Kind, self._io.read_u1())
            self.note_len = self._io.read_u1()
            self.note = (self._io.read_bytes(self.note_len)).decode(u"ASCII")
            self.samples = []
            for i in range(self._root.n_channels * self._root.n_samples):
                self.samples.append(self._io.read_s2le())



        def _fetch_instances(self):
            pass
            for i in range(len(self.samples)):
                pass




