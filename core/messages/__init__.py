"""Messages on a topic: tail, browse, seek, decode for display.

- `model`: frozen records: `Message` (one Kafka record, raw bytes), `StartAt` (where a read
  starts), `TailStats` (a tail's counters).
- `times`: `parse_time`, the times people type (`10m` ago, ISO, epoch ms). Pure.
- `display`: how records are shown and printed: `decode_value`, `hexdump`, `preview`,
  `message_json`, `json_lines` (the `tail --json` hot path). Pure.
- `tail`: `Tail` (a live read of one topic that notices a replaced or truncated log) and
  `RingBuffer` (its bounded newest records).
- `service`: `MessageService`: partitions, start offsets (also by time), `read`/`scan` of
  a range, and `tail(...)`.
"""
