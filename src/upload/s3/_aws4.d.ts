/**
 * The part of `aws4`'s API this project uses (the package ships no types; `@types/aws4` would
 * pull all of `@types/node` into the lock for two functions).
 */
/** A request as aws4 reads and returns it. */
export interface Aws4Request {
  method?: string;
  host?: string;
  path?: string;
  service?: string;
  region?: string;
  headers?: Record<string, string | number | undefined>;
}

/** The signer. */
declare const aws4: {
  /** Adds `Authorization` (and `X-Amz-Date` unless given) to `request`; returns it. */
  sign(
    request: Aws4Request,
    credentials: { accessKeyId: string; secretAccessKey: string },
  ): Aws4Request;
};
export default aws4;
