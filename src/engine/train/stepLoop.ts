/**
 * Several training steps in one ONNX run: the step graph (optim.ts) as the body of an ONNX Loop whose
 * loop-carried values are the weights and optimizer moments.
 *
 * Why: onnxruntime-node copies every output of a run into a fresh JavaScript ArrayBuffer, preallocated
 * outputs included. For nanoGPT's shakespeare_char model that is 128 MB of weights and moments per
 * step: a zero-filled allocation, a copy and the garbage collection of the previous one, about 45 ms
 * of a 1.5 s step with both cores but one idle (perf; ORT's own profile shows it outside model_run).
 * Inside a Loop the state stays in ORT's memory from one step to the next and crosses into JavaScript
 * once per run: 2.6–3.4% more steps per second at 4–16 steps per run (A/B in one process, 6–8 pairs).
 *
 *   outer inputs:  loop/steps () int64: how many steps (k) to run
 *                  loop/data/<data> (k, …): each step's data (spec.data) stacked on a new first axis
 *                  loop/lr (k), loop/step (): the 1-based number of the first step
 *                  loop/in/<state> for every state slot (spec.state)
 *   outer outputs: loop/out/<next> for every state slot, loop/loss (k'), loop/grad_norm (k')
 *
 * The loop stops after the first step whose loss or gradient norm is not finite (k' ≤ k steps ran):
 * its state outputs then include the bad step, and the caller keeps its inputs, which ORT does not
 * write to (runtime/trainRunner.ts replays the good steps before it).
 */
import { DTYPE_BYTES, ONNX_DTYPE, toOnnxModel } from '../graph/emit';
import type { Graph } from '../graph/graph';
import {
  encodeModel,
  OnnxAttributeType,
  OnnxDataType,
  type OnnxModel,
  type OnnxNode,
  type OnnxValueInfo,
} from '../graph/onnxProto';
import { GraphError } from '../graph/tensor';
import type { TrainStepSpec } from './optim';

/**
 * The outer names of a step loop. Every name the loop adds starts with `loop/`: the outer graph's
 * `loop/steps`, `loop/lr`, `loop/step`, `loop/loss`, `loop/grad_norm`, `loop/data/<data>`,
 * `loop/in/<state>`, `loop/out/<next>`, and the body's own `loop/body/…`; a step graph with a name
 * under `loop/` is refused, so no name shadows another.
 */
export const STEP_LOOP = {
  steps: 'loop/steps',
  lr: 'loop/lr',
  step: 'loop/step',
  loss: 'loop/loss',
  gradNorm: 'loop/grad_norm',
  /** The stacked (k, …) outer input of a data input of the step graph. */
  data: (name: string) => `loop/data/${name}`,
  /** The outer input of a state slot. */
  state: (name: string) => `loop/in/${name}`,
  /** The outer output of a state slot's next value. */
  next: (next: string) => `loop/out/${next}`,
} as const;
const BODY = (name: string) => `loop/body/${name}`;

const scalar = (name: string, elemType: number): OnnxValueInfo => ({
  name,
  type: { tensorType: { elemType, shape: { dim: [] } } },
});
const withShape = (v: OnnxValueInfo, name: string, lead?: string): OnnxValueInfo => {
  const t = v.type?.tensorType;
  if (!t) throw new GraphError(`step loop: ${v.name} has no tensor type`);
  return {
    name,
    type: {
      tensorType: {
        elemType: t.elemType,
        shape: { dim: [...(lead ? [{ dimParam: lead }] : []), ...(t.shape?.dim ?? [])] },
      },
    },
  };
};

/** The step graph of `addOptimizer` wrapped in a Loop (names above), as a ModelProto object. */
export function toTrainLoopModel(g: Graph, spec: TrainStepSpec): OnnxModel {
  const step = toOnnxModel(g);
  const body = step.graph;
  const input = (name: string) => {
    const v = body.input.find((i) => i.name === name);
    if (!v) throw new GraphError(`step loop: the step graph has no input ${name}`);
    return v;
  };
  const output = (name: string) => {
    const v = body.output.find((o) => o.name === name);
    if (!v) throw new GraphError(`step loop: the step graph has no output ${name}`);
    return v;
  };
  const stateNames = new Set(spec.state.map((s) => s.name));
  const fed = new Set([...spec.data.map((d) => d.name), spec.lr, spec.step]);
  for (const i of body.input)
    if (!stateNames.has(i.name) && !fed.has(i.name))
      throw new GraphError(`step loop: input ${i.name} is neither data, lr, step nor state`);
  const names = [
    ...body.input.map((v) => v.name),
    ...body.output.map((v) => v.name),
    ...(body.initializer ?? []).map((t) => t.name ?? ''),
    ...body.node.flatMap((n) => n.output),
  ];
  const taken = names.find((n) => n.startsWith('loop/'));
  if (taken)
    throw new GraphError(
      `step loop: the step graph has a value named ${taken}; names under loop/ are the loop's own`,
    );
  const known = new Set([spec.loss, spec.gradNorm, ...spec.state.map((s) => s.next)]);
  const extra = body.output.filter((o) => !known.has(o.name)).map((o) => o.name);
  if (extra.length)
    throw new GraphError(
      `step loop: outputs ${extra.slice(0, 4).join(', ')} are not state, loss or grad_norm (build the graph without outputGrads)`,
    );

  const dtype = ONNX_DTYPE[spec.dtype];
  const iter = BODY('iteration');
  const axis0 = [{ name: 'axis', type: OnnxAttributeType.INT, i: 0 }];
  const head: OnnxNode[] = [
    ...spec.data.map((d) => ({
      opType: 'Gather',
      name: BODY(`take/${d.name}`),
      input: [STEP_LOOP.data(d.name), iter],
      output: [d.name],
      attribute: axis0,
    })),
    {
      opType: 'Gather',
      name: BODY('take/lr'),
      input: [STEP_LOOP.lr, iter],
      output: [spec.lr],
      attribute: axis0,
    },
    {
      opType: 'Cast',
      name: BODY('iteration_as_step'),
      input: [iter],
      output: [BODY('offset')],
      attribute: [{ name: 'to', type: OnnxAttributeType.INT, i: dtype }],
    },
    { opType: 'Add', name: BODY('take/step'), input: [STEP_LOOP.step, BODY('offset')], output: [spec.step] },
  ];
  // finite(x) ⇔ x - x == 0 (NaN - NaN and Inf - Inf are NaN)
  const tail: OnnxNode[] = [
    {
      opType: 'Sub',
      name: BODY('loss_minus_itself'),
      input: [spec.loss, spec.loss],
      output: [BODY('loss_zero')],
    },
    {
      opType: 'Sub',
      name: BODY('grad_norm_minus_itself'),
      input: [spec.gradNorm, spec.gradNorm],
      output: [BODY('grad_norm_zero')],
    },
    {
      opType: 'Add',
      name: BODY('both_zero'),
      input: [BODY('loss_zero'), BODY('grad_norm_zero')],
      output: [BODY('sum_zero')],
    },
    {
      opType: 'Equal',
      name: BODY('finite'),
      input: [BODY('sum_zero'), BODY('zero')],
      output: [BODY('continue')],
    },
  ];
  const zero = new Uint8Array(DTYPE_BYTES[spec.dtype]); // 0.0 in the step's float width
  const bodyGraph = {
    name: `${body.name ?? 'train_step'}/body`,
    node: [...head, ...body.node, ...tail],
    initializer: [
      ...(body.initializer ?? []),
      { name: BODY('zero'), dims: [], dataType: dtype, rawData: zero },
    ],
    input: [
      scalar(iter, OnnxDataType.INT64),
      scalar(BODY('condition'), OnnxDataType.BOOL),
      ...spec.state.map((s) => input(s.name)),
    ],
    output: [
      scalar(BODY('continue'), OnnxDataType.BOOL),
      ...spec.state.map((s) => output(s.next)),
      output(spec.loss),
      output(spec.gradNorm),
    ],
  };
  return {
    ...step,
    docString: 'LLM Lens training steps: the step graph as the body of a Loop over loop/steps steps',
    graph: {
      name: `${body.name ?? 'train_step'}/loop`,
      node: [
        {
          opType: 'Loop',
          name: 'loop',
          input: [STEP_LOOP.steps, 'loop/true', ...spec.state.map((s) => STEP_LOOP.state(s.name))],
          output: [...spec.state.map((s) => STEP_LOOP.next(s.next)), STEP_LOOP.loss, STEP_LOOP.gradNorm],
          attribute: [{ name: 'body', type: OnnxAttributeType.GRAPH, g: bodyGraph } as never],
        },
      ],
      initializer: [
        { name: 'loop/true', dims: [], dataType: OnnxDataType.BOOL, rawData: new Uint8Array([1]) },
      ],
      input: [
        scalar(STEP_LOOP.steps, OnnxDataType.INT64),
        ...spec.data.map((d) => withShape(input(d.name), STEP_LOOP.data(d.name), 'steps')),
        withShape(scalar(spec.lr, dtype), STEP_LOOP.lr, 'steps'),
        scalar(STEP_LOOP.step, dtype),
        ...spec.state.map((s) => withShape(input(s.name), STEP_LOOP.state(s.name))),
      ],
      output: [
        ...spec.state.map((s) => withShape(output(s.next), STEP_LOOP.next(s.next))),
        withShape(output(spec.loss), STEP_LOOP.loss, 'ran'),
        withShape(output(spec.gradNorm), STEP_LOOP.gradNorm, 'ran'),
      ],
    },
  };
}

/** The step loop as ONNX bytes; a TrainRunner made from them runs `runSteps()` k at a time. */
export function emitTrainLoop(g: Graph, spec: TrainStepSpec): Uint8Array {
  return encodeModel(toTrainLoopModel(g, spec));
}
