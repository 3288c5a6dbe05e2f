export {
  BATCH_FIELD_DESCRIPTIONS, BatchSchema, EVENT_WIRE_NAMES, EventSchema, ID_PATTERN, MAX_BODY_BYTES, MAX_EVENTS_PER_BATCH,
  MAX_UPDATE_DIMENSION, SIGNALS_FORMAT, SignalFormatError, TIME_BUCKET_HOURS, UPDATE_WIRE_NAMES, UpdateSchema,
  batchFromWire, batchToWire, eventFromWire, eventToWire, parseBatch, parseWireBatch, timeBucket,
  type ModelUpdate, type SignalBatch, type SignalEvent, type WireBatch, type WireEvent,
} from './signals';
export { PRIVACY_FORMAT, PrivacySchema, type PrivacyParameters } from './privacy-parameters';
