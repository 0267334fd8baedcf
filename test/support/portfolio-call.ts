import { Metadata } from '@grpc/grpc-js';
import type { CallSpec } from '../../src/client/call-engine.js';
import { unaryBytes } from '../../src/client/unary-bytes.js';
import { hedgeProto } from '../../src/common/proto.js';

export const GET_PORTFOLIO = hedgeProto().Trading.service.GetPortfolio;

/** What the call engine is given to run one GetPortfolio as bytes, for tests that drive `runCall` directly. */
export const PORTFOLIO_CALL: Pick<CallSpec<Buffer>, 'method' | 'attempt'> = {
  method: GET_PORTFOLIO.path,
  attempt: (channel, deadline, done) =>
    unaryBytes(
      channel,
      GET_PORTFOLIO.path,
      GET_PORTFOLIO.requestSerialize({}),
      new Metadata(),
      deadline,
      done,
    ),
};
