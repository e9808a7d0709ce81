// SCSI command opcodes and result codes by name (include/scsi/scsi_proto.h, scsi_status.h), for
// scsilatency and scsiresult.

const OPCODES: Record<number, string> = {
  0x00: 'TEST_UNIT_READY', 0x03: 'REQUEST_SENSE', 0x08: 'READ_6', 0x0a: 'WRITE_6', 0x12: 'INQUIRY',
  0x15: 'MODE_SELECT', 0x1a: 'MODE_SENSE', 0x1b: 'START_STOP', 0x1d: 'SEND_DIAGNOSTIC',
  0x1e: 'ALLOW_MEDIUM_REMOVAL', 0x25: 'READ_CAPACITY', 0x28: 'READ_10', 0x2a: 'WRITE_10', 0x2f: 'VERIFY',
  0x35: 'SYNCHRONIZE_CACHE', 0x3c: 'READ_BUFFER', 0x41: 'WRITE_SAME', 0x42: 'UNMAP', 0x43: 'READ_TOC',
  0x4d: 'LOG_SENSE', 0x55: 'MODE_SELECT_10', 0x5a: 'MODE_SENSE_10', 0x7f: 'VARIABLE_LENGTH_CMD',
  0x85: 'ATA_16', 0x88: 'READ_16', 0x8a: 'WRITE_16', 0x8f: 'VERIFY_16', 0x91: 'SYNCHRONIZE_CACHE_16',
  0x93: 'WRITE_SAME_16', 0x9e: 'SERVICE_ACTION_IN_16', 0xa0: 'REPORT_LUNS', 0xa1: 'ATA_12',
  0xa3: 'MAINTENANCE_IN', 0xa8: 'READ_12', 0xaa: 'WRITE_12',
};

/** READ_10 for 0x28; the number in hex for an opcode without a name here. */
export function scsiOpcodeName(op: number): string {
  return OPCODES[op] ?? `0x${op.toString(16).padStart(2, '0')}`;
}

const HOST_BYTES = ['DID_OK', 'DID_NO_CONNECT', 'DID_BUS_BUSY', 'DID_TIME_OUT', 'DID_BAD_TARGET', 'DID_ABORT',
  'DID_PARITY', 'DID_ERROR', 'DID_RESET', 'DID_BAD_INTR', 'DID_PASSTHROUGH', 'DID_SOFT_ERROR', 'DID_IMM_RETRY',
  'DID_REQUEUE', 'DID_TRANSPORT_DISRUPTED', 'DID_TRANSPORT_FAILFAST', 'DID_TARGET_FAILURE', 'DID_NEXUS_FAILURE',
  'DID_ALLOC_FAILURE', 'DID_MEDIUM_ERROR', 'DID_TRANSPORT_MARGINAL'];
const DRIVER_BYTES = ['DRIVER_OK', 'DRIVER_BUSY', 'DRIVER_SOFT', 'DRIVER_MEDIA', 'DRIVER_ERROR', 'DRIVER_INVALID',
  'DRIVER_TIMEOUT', 'DRIVER_HARD', 'DRIVER_SENSE'];
const STATUS: Record<number, string> = {
  0x00: 'SAM_STAT_GOOD', 0x02: 'SAM_STAT_CHECK_CONDITION', 0x04: 'SAM_STAT_CONDITION_MET', 0x08: 'SAM_STAT_BUSY',
  0x10: 'SAM_STAT_INTERMEDIATE', 0x14: 'SAM_STAT_INTERMEDIATE_CONDITION_MET', 0x18: 'SAM_STAT_RESERVATION_CONFLICT',
  0x22: 'SAM_STAT_COMMAND_TERMINATED', 0x28: 'SAM_STAT_TASK_SET_FULL', 0x30: 'SAM_STAT_ACA_ACTIVE', 0x40: 'SAM_STAT_TASK_ABORTED',
};

const named = (names: string[] | Record<number, string>, v: number) => (names as Record<number, string>)[v] ?? `0x${v.toString(16)}`;

/** scsi_cmnd->result as the book's scsiresult prints it: "DID_OK, DRIVER_OK, SAM_STAT_GOOD". */
export function scsiResultName(result: number): string {
  return [named(HOST_BYTES, (result >>> 16) & 0xff), named(DRIVER_BYTES, (result >>> 24) & 0xff), named(STATUS, result & 0xff)].join(', ');
}
