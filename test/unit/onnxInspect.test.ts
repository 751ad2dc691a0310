/**
 * The ONNX reader of the Checkpoint Inspector on a model built with encodeModel: the interface, opsets,
 * op counts and initializers come back as put in; stats are checked against sums written out here, and
 * the histogram against numpy's bin rule worked by hand.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CheckpointError } from '../../src/engine/checkpoint/errors';
import { onnxTensorHeatmap, onnxTensorStats, readOnnx } from '../../src/engine/checkpoint/onnx';
import { encodeModel, OnnxDataType, type OnnxModel } from '../../src/engine/graph/onnxProto';

const W = [1, 2, 3, 4, 5, 6]; // (2, 3), raw_data
const B = [0.5, -0.5, 0, 0]; // float_data, two zeros
const IDX = [1, -2, 7]; // int64_data
const HALF_BITS = [0x3c00, 0xc000, 0x3800]; // F16 1, -2, 0.5 in int32_data
const BF16_BITS = [0x3f80, 0xbf00]; // BF16 1, -0.5 in raw_data

function model(): OnnxModel {
  return {
    irVersion: 9,
    producerName: 'llm-lens-test',
    producerVersion: '0.1',
    opsetImport: [
      { domain: '', version: 20 },
      { domain: 'com.microsoft', version: 1 },
    ],
    graph: {
      name: 'g',
      node: [
        { opType: 'MatMul', input: ['x', 'W'], output: ['a'] },
        { opType: 'Add', input: ['a', 'b'], output: ['c'] },
        { opType: 'MatMul', input: ['c', 'W2'], output: ['d'] },
        { opType: 'Attention', domain: 'com.microsoft', input: ['d'], output: ['y'] },
      ],
      initializer: [
        {
          name: 'W',
          dims: [2, 3],
          dataType: OnnxDataType.FLOAT,
          rawData: new Uint8Array(Float32Array.from(W).buffer),
        },
        { name: 'b', dims: [4], dataType: OnnxDataType.FLOAT, floatData: B },
        { name: 'idx', dims: [3], dataType: OnnxDataType.INT64, int64Data: IDX },
        { name: 'half', dims: [3], dataType: OnnxDataType.FLOAT16, int32Data: HALF_BITS },
        {
          name: 'bf',
          dims: [1, 2],
          dataType: OnnxDataType.BFLOAT16,
          rawData: new Uint8Array(Uint16Array.from(BF16_BITS).buffer),
        },
        { name: 'external', dims: [4, 4], dataType: OnnxDataType.FLOAT },
        { name: 'names', dims: [1], dataType: OnnxDataType.STRING },
      ],
      // old exporters list initializers among the inputs too: they are not shown as inputs
      input: [
        {
          name: 'x',
          type: {
            tensorType: {
              elemType: OnnxDataType.FLOAT,
              shape: { dim: [{ dimParam: 'batch' }, { dimValue: 2 }] },
            },
          },
        },
        {
          name: 'W',
          type: {
            tensorType: { elemType: OnnxDataType.FLOAT, shape: { dim: [{ dimValue: 2 }, { dimValue: 3 }] } },
          },
        },
        { name: 'ids', type: { tensorType: { elemType: OnnxDataType.INT64, shape: { dim: [{}] } } } },
      ],
      output: [
        {
          name: 'y',
          type: {
            tensorType: {
              elemType: OnnxDataType.FLOAT16,
              shape: { dim: [{ dimParam: 'batch' }, { dimValue: 3 }] },
            },
          },
        },
      ],
    },
  };
}

const m = readOnnx(encodeModel(model()), 'test.onnx');

test('inputs, outputs, opsets and op counts come back as put in', () => {
  assert.deepEqual(m.inputs, [
    { name: 'x', dtype: 'F32', shape: ['batch', 2] },
    { name: 'ids', dtype: 'I64', shape: ['?'] },
  ]);
  assert.deepEqual(m.outputs, [{ name: 'y', dtype: 'F16', shape: ['batch', 3] }]);
  assert.deepEqual(m.opsets, [
    { domain: 'ai.onnx', version: 20 },
    { domain: 'com.microsoft', version: 1 },
  ]);
  assert.deepEqual(m.opCounts, [
    { op: 'MatMul', count: 2 },
    { op: 'Add', count: 1 },
    { op: 'com.microsoft.Attention', count: 1 },
  ]);
  assert.equal(m.nodeCount, 4);
  assert.equal(m.irVersion, 9);
  assert.equal(m.producer, 'llm-lens-test 0.1');
});

test('initializers are listed with dtype, shape and size; external data and strings are listed, not decoded', () => {
  const byName = Object.fromEntries(m.initializers.map((t) => [t.name, t]));
  assert.deepEqual(
    m.initializers.map((t) => t.name),
    ['W', 'b', 'idx', 'half', 'bf', 'external', 'names'],
  );
  assert.deepEqual(
    [byName.W.dtype, byName.W.shape, byName.W.elements, byName.W.byteLength, byName.W.supported],
    ['F32', [2, 3], 6, 24, true],
  );
  assert.deepEqual([byName.idx.dtype, byName.idx.byteLength], ['I64', 24]);
  assert.deepEqual([byName.half.dtype, byName.bf.dtype], ['F16', 'BF16']);
  assert.equal(byName.external.supported, false);
  assert.match(byName.external.reason!, /external data/);
  assert.equal(byName.names.supported, false);
  assert.match(byName.names.reason!, /STRING/);
  assert.throws(
    () => m.values('external'),
    (e: unknown) => e instanceof CheckpointError && e.code === 'unsupported-dtype',
  );
  assert.throws(
    () => m.values('nope'),
    (e: unknown) => e instanceof CheckpointError && e.code === 'not-found',
  );
});

test('values of every storage form equal the arrays put in', () => {
  assert.deepEqual(Array.from(m.values('W')), W);
  assert.deepEqual(Array.from(m.values('b')), B);
  assert.deepEqual(Array.from(m.values('idx')), IDX);
  assert.deepEqual(Array.from(m.values('half')), [1, -2, 0.5]);
  assert.deepEqual(Array.from(m.values('bf')), [1, -0.5]);
});

test('stats equal sums written out by hand; the histogram follows numpy (last bin closed)', () => {
  const { stats, histogram } = onnxTensorStats(m, 'W', { bins: 5 });
  const mean = W.reduce((a, b) => a + b, 0) / W.length; // 3.5
  const std = Math.sqrt(W.reduce((a, x) => a + (x - mean) ** 2, 0) / W.length);
  assert.equal(stats.mean, 3.5);
  assert.ok(Math.abs(stats.std - std) < 1e-12);
  assert.equal(stats.min, 1);
  assert.equal(stats.max, 6);
  assert.ok(Math.abs(stats.l2 - Math.sqrt(91)) < 1e-12);
  assert.equal(stats.zeroFraction, 0);
  // np.histogram([1..6], bins=5) → edges [1, 2, 3, 4, 5, 6], counts [1, 1, 1, 1, 2]
  assert.deepEqual(Array.from(histogram!.edges), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(Array.from(histogram!.counts), [1, 1, 1, 1, 2]);

  const b = onnxTensorStats(m, 'b').stats;
  assert.equal(b.zeros, 2);
  assert.equal(b.zeroFraction, 0.5);
  assert.equal(b.mean, 0);
});

test('heatmap pools the matrix like the safetensors heatmap (largest |value| per cell)', () => {
  const h = onnxTensorHeatmap(m, 'W', { maxRows: 1, maxCols: 3 });
  assert.deepEqual([h.rows, h.cols, h.rowBlock, h.colBlock], [1, 3, 2, 1]);
  assert.deepEqual(Array.from(h.values), [4, 5, 6]);
});

test('bytes that are not an ONNX model give a CheckpointError, never a crash', () => {
  for (const bad of [
    new Uint8Array(0),
    new Uint8Array([0x0a, 0xff]),
    new TextEncoder().encode('{"not": "onnx"}'),
    new Uint8Array(4096).fill(0xff),
  ]) {
    assert.throws(
      () => readOnnx(bad, 'bad.onnx'),
      (e: unknown) => e instanceof CheckpointError && /ONNX/.test(e.message),
    );
  }
});

test('raw data of the wrong length is reported with the tensor name', () => {
  const mm = model();
  mm.graph.initializer = [
    { name: 'short', dims: [4], dataType: OnnxDataType.FLOAT, rawData: new Uint8Array(8) },
  ];
  const f = readOnnx(encodeModel(mm));
  assert.throws(
    () => f.values('short'),
    (e: unknown) => e instanceof CheckpointError && /'short'/.test(e.message),
  );
});
