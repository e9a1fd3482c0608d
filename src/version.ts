/** The shipper's version: sent in User-Agent, stamped in quarantine reasons, printed by `--version`. */
export const VERSION = "0.1.0";
