/** ONNX emit: onnxruntime (the reference parser) loads what encodeModel writes and computes with it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import {
  decodeModel,
  encodeModel,
  OnnxAttributeType,
  OnnxDataType,
  type OnnxModel,
} from '../../src/engine/graph/onnxProto';

const f32 = (name: string, dims: number[]) => ({
  name,
  type: { tensorType: { elemType: OnnxDataType.FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
});

/** y = Gemm(x, W, transB=1) * 2 + b with W, b and the 2 as initializers: exercises nodes, attributes and raw/float data. */
function model(): OnnxModel {
  const W = Float32Array.from([1, 2, 3, 4, 5, 6]); // (out=2, in=3)
  return {
    irVersion: 9,
    opsetImport: [{ domain: '', version: 20 }],
    producerName: 'llm-lens-test',
    graph: {
      name: 'g',
      node: [
        {
          opType: 'Gemm',
          input: ['x', 'W'],
          output: ['xw'],
          name: 'gemm',
          attribute: [{ name: 'transB', type: OnnxAttributeType.INT, i: 1 }],
        },
        { opType: 'Mul', input: ['xw', 'two'], output: ['xw2'] },
        { opType: 'Add', input: ['xw2', 'b'], output: ['y'] },
      ],
      initializer: [
        { name: 'W', dims: [2, 3], dataType: OnnxDataType.FLOAT, rawData: new Uint8Array(W.buffer) },
        { name: 'b', dims: [2], dataType: OnnxDataType.FLOAT, floatData: [0.5, -0.5] },
        { name: 'two', dims: [], dataType: OnnxDataType.FLOAT, floatData: [2] },
      ],
      input: [f32('x', [1, 3])],
      output: [f32('y', [1, 2])],
    },
  };
}

test('onnxruntime runs an encoded model and gets the hand-computed answer', async () => {
  const session = await ort.InferenceSession.create(encodeModel(model()));
  const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from([1, 1, 1]), [1, 3]) });
  // x·Wᵀ = [1+2+3, 4+5+6] = [6, 15]; ×2 + b = [12.5, 29.5]
  assert.deepEqual(Array.from(out.y.data as Float32Array), [12.5, 29.5]);
  assert.deepEqual(out.y.dims, [1, 2]);
  await session.release();
});

test('decodeModel reads back what encodeModel wrote', () => {
  const m = decodeModel(encodeModel(model()));
  assert.equal(m.irVersion, 9);
  assert.deepEqual(
    m.opsetImport.map((o) => [o.domain ?? '', o.version]),
    [['', 20]],
  );
  assert.deepEqual(
    m.graph.node.map((n) => n.opType),
    ['Gemm', 'Mul', 'Add'],
  );
  assert.equal(m.graph.node[0].attribute?.[0].i, 1);
  assert.deepEqual(
    Array.from(new Float32Array(Uint8Array.from(m.graph.initializer![0].rawData!).buffer)),
    [1, 2, 3, 4, 5, 6],
  );
  assert.deepEqual(m.graph.initializer![1].floatData, [0.5, -0.5]);
  assert.deepEqual(
    m.graph.input[0].type?.tensorType?.shape?.dim.map((d) => d.dimValue),
    [1, 3],
  );
});

test('a malformed model is an error that says what is wrong', () => {
  const bad = model() as unknown as { graph: { node: unknown[] } };
  bad.graph.node = [{ opType: 5 }];
  assert.throws(() => encodeModel(bad as unknown as OnnxModel), /Invalid ONNX model: .*opType/);
});
