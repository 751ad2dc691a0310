/**
 * TensorBoard's Event protobufs (tensorflow/core/util/event.proto, framework/summary.proto, tensor.proto)
 * decoded into points: a scalar per summary value that holds one number (TF1 / PyTorch `simple_value`, or a
 * one-element float, double, int or half tensor, tf.summary's form), and text (a DT_STRING tensor, the
 * "text" plugin: PyTorch's add_text, tf.summary.text). Histograms, images, audio and graphs are skipped.
 *
 *   for (const data of readRecords(bytes).records) points.push(...eventPoints(data, 'run-1'));
 *   // { run: 'run-1', tag: 'train/loss', step: 40, wallTime: 1700000040.5, value: 2 }
 *   // { run: 'run-1', tag: 'samples', step: 40, wallTime: …, text: 'ROMEO:\n…' }
 *
 * The schema is declared here for protobufjs (field numbers are TensorFlow's), as onnxProto.ts does ONNX's.
 */
import protobuf from 'protobufjs/light';
import { f16ToF32 } from '../checkpoint/dtypes';

/** One logged value: a scalar (`value`) or a text (`text`) of a tag at a step. */
export interface LogPoint {
  run: string;
  tag: string;
  step: number;
  /** Seconds since the epoch, when the log says. */
  wallTime?: number;
  value?: number;
  text?: string;
}

const schema = {
  nested: {
    tensorflow: {
      nested: {
        Event: {
          oneofs: { what: { oneof: ['fileVersion', 'graphDef', 'summary'] } },
          fields: {
            wallTime: { type: 'double', id: 1 },
            step: { type: 'int64', id: 2 },
            fileVersion: { type: 'string', id: 3 },
            graphDef: { type: 'bytes', id: 4 },
            summary: { type: 'Summary', id: 5 },
          },
        },
        Summary: {
          fields: { value: { rule: 'repeated', type: 'Value', id: 1 } },
          nested: {
            Value: {
              oneofs: {
                value: {
                  oneof: ['simpleValue', 'obsoleteOldStyleHistogram', 'image', 'histo', 'audio', 'tensor'],
                },
              },
              fields: {
                nodeName: { type: 'string', id: 7 },
                tag: { type: 'string', id: 1 },
                metadata: { type: 'SummaryMetadata', id: 9 },
                simpleValue: { type: 'float', id: 2 },
                obsoleteOldStyleHistogram: { type: 'bytes', id: 3 },
                image: { type: 'bytes', id: 4 },
                histo: { type: 'bytes', id: 5 },
                audio: { type: 'bytes', id: 6 },
                tensor: { type: 'TensorProto', id: 8 },
              },
            },
          },
        },
        SummaryMetadata: {
          fields: {
            pluginData: { type: 'PluginData', id: 1 },
            displayName: { type: 'string', id: 2 },
            summaryDescription: { type: 'string', id: 3 },
            dataClass: { type: 'int32', id: 4 },
          },
          nested: {
            PluginData: {
              fields: { pluginName: { type: 'string', id: 1 }, content: { type: 'bytes', id: 2 } },
            },
          },
        },
        TensorProto: {
          fields: {
            dtype: { type: 'int32', id: 1 },
            tensorShape: { type: 'TensorShapeProto', id: 2 },
            tensorContent: { type: 'bytes', id: 4 },
            halfVal: { rule: 'repeated', type: 'int32', id: 13 },
            floatVal: { rule: 'repeated', type: 'float', id: 5 },
            doubleVal: { rule: 'repeated', type: 'double', id: 6 },
            intVal: { rule: 'repeated', type: 'int32', id: 7 },
            stringVal: { rule: 'repeated', type: 'bytes', id: 8 },
            int64Val: { rule: 'repeated', type: 'int64', id: 10 },
          },
        },
        TensorShapeProto: {
          fields: { dim: { rule: 'repeated', type: 'Dim', id: 2 } },
          nested: { Dim: { fields: { size: { type: 'int64', id: 1 } } } },
        },
      },
    },
  },
};

interface TensorProto {
  dtype?: number;
  tensorShape?: { dim?: { size?: number }[] };
  tensorContent?: Uint8Array;
  halfVal?: number[];
  floatVal?: number[];
  doubleVal?: number[];
  intVal?: number[];
  stringVal?: Uint8Array[];
  int64Val?: number[];
}

interface SummaryValue {
  tag?: string;
  nodeName?: string;
  metadata?: { pluginData?: { pluginName?: string } };
  value?: string;
  simpleValue?: number;
  tensor?: TensorProto;
}

interface Event {
  wallTime?: number;
  step?: number;
  fileVersion?: string;
  summary?: { value?: SummaryValue[] };
}

/** TensorFlow DataType values read here. */
const DT = { FLOAT: 1, DOUBLE: 2, INT32: 3, STRING: 7, INT64: 9, HALF: 19 } as const;

/** Plugins whose tensors are not scalars or text. */
const SKIPPED_PLUGINS = new Set(['histograms', 'images', 'audio', 'pr_curves', 'hparams', 'graph', 'mesh']);

let eventType: protobuf.Type | undefined;
function eventProto(): protobuf.Type {
  eventType ??= protobuf.Root.fromJSON(schema).lookupType('tensorflow.Event');
  return eventType;
}

/** Decodes one record's Event; throws (protobufjs's message) when the bytes are not one. */
export function decodeEvent(data: Uint8Array): Event {
  const type = eventProto();
  return type.toObject(type.decode(data), {
    longs: Number,
    bytes: Uint8Array as unknown as typeof String,
    defaults: false,
    arrays: true,
    oneofs: true,
  }) as Event;
}

/** The scalar and text points of one Event record (none for file_version, graphs, histograms …). */
export function eventPoints(data: Uint8Array, run: string): LogPoint[] {
  const e = decodeEvent(data);
  const out: LogPoint[] = [];
  const step = e.step ?? 0;
  for (const v of e.summary?.value ?? []) {
    const tag = v.tag || v.nodeName;
    if (!tag) continue;
    const base = { run, tag, step, ...(e.wallTime !== undefined ? { wallTime: e.wallTime } : {}) };
    if (v.value === 'simpleValue') out.push({ ...base, value: v.simpleValue ?? 0 });
    else if (v.value === 'tensor' && v.tensor) {
      const plugin = v.metadata?.pluginData?.pluginName ?? '';
      if (SKIPPED_PLUGINS.has(plugin)) continue;
      const read = tensorPoint(v.tensor);
      if (read) out.push({ ...base, ...read });
    }
  }
  return out;
}

/** A one-element numeric tensor's value, or a string tensor's text (elements joined by newlines). */
function tensorPoint(t: TensorProto): { value: number } | { text: string } | undefined {
  const dtype = t.dtype ?? 0;
  if (dtype === DT.STRING) {
    const parts = (t.stringVal ?? []).map((b) => Buffer.from(b).toString('utf8'));
    return parts.length ? { text: parts.join('\n') } : undefined;
  }
  const size = (t.tensorShape?.dim ?? []).reduce((n, d) => n * (d.size ?? 0), 1);
  if (size !== 1) return undefined; // a vector or matrix: not a scalar
  const c = t.tensorContent;
  const view = c ? new DataView(c.buffer, c.byteOffset, c.byteLength) : undefined;
  switch (dtype) {
    case DT.FLOAT:
      if (view && view.byteLength === 4) return { value: view.getFloat32(0, true) };
      return t.floatVal?.length === 1 ? { value: t.floatVal[0] } : undefined;
    case DT.DOUBLE:
      if (view && view.byteLength === 8) return { value: view.getFloat64(0, true) };
      return t.doubleVal?.length === 1 ? { value: t.doubleVal[0] } : undefined;
    case DT.INT32:
      if (view && view.byteLength === 4) return { value: view.getInt32(0, true) };
      return t.intVal?.length === 1 ? { value: t.intVal[0] } : undefined;
    case DT.INT64:
      if (view && view.byteLength === 8) return { value: Number(view.getBigInt64(0, true)) };
      return t.int64Val?.length === 1 ? { value: t.int64Val[0] } : undefined;
    case DT.HALF:
      if (view && view.byteLength === 2)
        return { value: f16ToF32(Uint16Array.of(view.getUint16(0, true)))[0] };
      return t.halfVal?.length === 1 ? { value: f16ToF32(Uint16Array.of(t.halfVal[0]))[0] } : undefined;
    default:
      return undefined;
  }
}
