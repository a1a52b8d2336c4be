// Operational negotiation: tgt's real answer settles the session's limits; keys a target offers on
// its own are answered by the RFC's rules; CRC32C digests are taken when wanted; what we do not
// speak (other digests, error recovery above 0) is refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LifeboatError } from '../../electron/errors.ts';
import { Negotiation } from '../../electron/drivers/scsi/iscsi/params.ts';

const PEER = '127.0.0.1:3260';

test("tgt's answer to our offers settles the limits the session obeys", () => {
  const negotiation = new Negotiation(PEER, false);
  const offers = new Map(negotiation.offers());
  assert.equal(offers.get('HeaderDigest'), 'None,CRC32C');
  assert.equal(new Map(new Negotiation(PEER, false, true).offers()).get('DataDigest'), 'CRC32C,None');
  assert.equal(offers.get('ErrorRecoveryLevel'), '0');
  assert.equal(offers.get('InitialR2T'), 'No');
  // As tgt 1.0.85 answered (it does not declare its MaxRecvDataSegmentLength: the default 8192 holds).
  const replies = negotiation.absorb([
    ['HeaderDigest', 'None'],
    ['DataDigest', 'None'],
    ['InitialR2T', 'Yes'],
    ['ImmediateData', 'Yes'],
    ['MaxBurstLength', '262144'],
    ['FirstBurstLength', '65536'],
    ['MaxOutstandingR2T', '1'],
    ['DataPDUInOrder', 'Yes'],
    ['DataSequenceInOrder', 'Yes'],
    ['ErrorRecoveryLevel', '0'],
    ['MaxConnections', '1'],
    ['DefaultTime2Wait', '2'],
    ['DefaultTime2Retain', '0'],
  ]);
  assert.deepEqual(replies, []);
  const params = negotiation.finish();
  assert.equal(params.maxSendDataSegment, 8192);
  assert.equal(params.maxRecvDataSegment, 262144);
  assert.equal(params.maxBurstLength, 262144);
  assert.equal(params.firstBurstLength, 65536);
  assert.equal(params.initialR2T && params.immediateData, true);
  assert.equal(params.defaultTime2Retain, 0);
});

test("a target's own offers are answered: min, max, OR, AND, a digest list, NotUnderstood", () => {
  const negotiation = new Negotiation(PEER, false);
  const replies = negotiation.absorb([
    ['MaxRecvDataSegmentLength', '65536'],
    ['MaxBurstLength', '1048576'],
    ['DefaultTime2Wait', '5'],
    ['InitialR2T', 'No'],
    ['ImmediateData', 'No'],
    ['HeaderDigest', 'CRC32C,None'],
    ['X-com.example.Thing', '1'],
    ['TargetAlias', 'vtl'],
  ]);
  assert.deepEqual(replies, [
    ['MaxBurstLength', '1048576'],
    ['DefaultTime2Wait', '5'],
    ['InitialR2T', 'No'],
    ['ImmediateData', 'No'],
    ['HeaderDigest', 'CRC32C'], // the first of the proposer's list that we speak
    ['X-com.example.Thing', 'NotUnderstood'],
  ]);
  const params = negotiation.finish();
  assert.equal(params.maxSendDataSegment, 65536);
  assert.equal(params.maxBurstLength, 1048576);
  assert.equal(params.firstBurstLength, 65536);
  assert.equal(params.immediateData, false);
  assert.equal(params.initialR2T, false);
});

test('CRC32C digests are taken when the target answers or offers them; anything else is refused', () => {
  const answered = new Negotiation(PEER, false);
  answered.offers();
  assert.deepEqual(
    answered.absorb([
      ['HeaderDigest', 'CRC32C'],
      ['DataDigest', 'None'],
    ]),
    [],
  );
  assert.equal(answered.params.headerDigest, true);
  assert.equal(answered.params.dataDigest, false);
  const offered = new Negotiation(PEER, false);
  assert.deepEqual(
    offered.absorb([
      ['HeaderDigest', 'CRC32C'],
      ['DataDigest', 'MD5,CRC32C,None'],
    ]),
    [
      ['HeaderDigest', 'CRC32C'],
      ['DataDigest', 'CRC32C'],
    ],
  );
  for (const [key, value, pattern] of [
    ['HeaderDigest', 'MD5', /None and CRC32C/],
    ['DataDigest', 'Reject', /neither None nor CRC32C/],
    ['ErrorRecoveryLevel', '1', /ErrorRecoveryLevel=0/],
  ] as const) {
    const negotiation = new Negotiation(PEER, false);
    negotiation.offers();
    assert.throws(
      () => negotiation.absorb([[key, value]]),
      (error: unknown) => error instanceof LifeboatError && error.code === 'unavailable' && pattern.test(error.message),
    );
  }
});
