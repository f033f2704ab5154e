// Reading the rich error details mandi's services attach (google.rpc ErrorInfo,
// BadRequest, PreconditionFailure, RetryInfo) from a failed call.
import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  PreconditionFailureSchema,
  RetryInfoSchema,
} from "./gen/google/rpc/error_details_pb";

export { Code, ConnectError };

/** What a failed call said, decoded. */
export interface CallError {
  /** The gRPC status code. */
  code: Code;
  /** The server's message (lowercase, for developers), without the code prefix. */
  message: string;
  /** ErrorInfo reason, for example OUT_OF_STOCK; empty when none was attached. */
  reason: string;
  /** ErrorInfo domain, for example mandi.cart. */
  domain: string;
  /** ErrorInfo metadata. */
  metadata: Record<string, string>;
  /** BadRequest field violations: field path -> what is wrong. */
  fields: { field: string; description: string }[];
  /** PreconditionFailure violations. */
  preconditions: { type: string; subject: string; description: string }[];
  /** RetryInfo delay in milliseconds, when the server said when to retry. */
  retryAfterMs?: number;
}

/** Decodes any thrown value from a call into a CallError. */
export function callError(err: unknown): CallError {
  const ce = ConnectError.from(err);
  const info = ce.findDetails(ErrorInfoSchema)[0];
  const bad = ce.findDetails(BadRequestSchema);
  const pre = ce.findDetails(PreconditionFailureSchema);
  const retry = ce.findDetails(RetryInfoSchema)[0]?.retryDelay;
  return {
    code: ce.code,
    message: ce.rawMessage,
    reason: info?.reason ?? "",
    domain: info?.domain ?? "",
    metadata: { ...(info?.metadata ?? {}) },
    fields: bad.flatMap((b) => b.fieldViolations.map((v) => ({ field: v.field, description: v.description }))),
    preconditions: pre.flatMap((p) =>
      p.violations.map((v) => ({ type: v.type, subject: v.subject, description: v.description })),
    ),
    retryAfterMs: retry ? Number(retry.seconds) * 1000 + Math.round(retry.nanos / 1e6) : undefined,
  };
}
