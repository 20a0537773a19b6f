# Tutorial 08's own format: a small sensor DAQ record stream (RareHub example).
meta:
  id: sensor_demo
  endian: le
seq:
  - id: magic
    contents: "SNS1"
  - id: n_channels
    type: u1
  - id: n_samples
    type: u2
  - id: sample_rate_hz
    type: f4
  - id: records
    type: record
    repeat: eos
types:
  record:
    seq:
      - id: event
        type: u4
      - id: kind
        type: u1
        enum: kind
      - id: note_len
        type: u1
      - id: note
        type: str
        size: note_len
        encoding: ASCII
      - id: samples
        type: s2
        repeat: expr
        repeat-expr: _root.n_channels * _root.n_samples
enums:
  kind:
    0: noise
    1: pulse
