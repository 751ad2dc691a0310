/**
 * A run's checkpoint of either family, for resuming and for starting from (init-from, fine-tuning): an
 * LLM Lens GPT-2 checkpoint through checkpoint.ts's loadCheckpoint, a Llama-family folder (ours, or a
 * Hugging Face one: bf16 / f16 weights read as float32, shards) through model/pretrained.ts's loadModel,
 * with the trainer state beside it when there is one.
 *
 *   const ck = await loadTrainCheckpoint('runs/llama-tiny-1/checkpoints/step-200');
 *   ck.model.family;   // 'llama' (TrainModel), ck.weights by Hugging Face name, ck.trainer?.step 200
 */
import * as path from 'node:path';
import type { TrainModel } from '../model/gpt';
import { loadModel, readModelConfig } from '../model/pretrained';
import type { HostTensor } from '../runtime/session';
import { loadCheckpoint, readTrainerFiles, type TrainerState } from './checkpoint';

export interface TrainCheckpoint {
  dir: string;
  model: TrainModel;
  weights: Record<string, HostTensor>;
  /** adam.m/<name>, adam.v/<name>; empty without trainer state (a hub model, exported weights). */
  moments: Record<string, HostTensor>;
  trainer?: TrainerState;
  trainerError?: string;
}

/** Loads a checkpoint folder (or its safetensors file) of either family; see the module comment. */
export async function loadTrainCheckpoint(dirOrFile: string): Promise<TrainCheckpoint> {
  const { dir, family } = readModelConfig(dirOrFile);
  if (family === 'gpt2') {
    const c = await loadCheckpoint(dirOrFile);
    return {
      dir: c.dir,
      model: c.config,
      weights: c.weights,
      moments: c.moments,
      trainer: c.trainer,
      trainerError: c.trainerError,
    };
  }
  const m = await loadModel(dirOrFile);
  if (m.family !== 'llama') throw new Error(`${dir}: expected a Llama-family model`);
  const modelFile = dirOrFile === dir ? path.join(dir, 'model.safetensors') : dirOrFile;
  const state = await readTrainerFiles(dir, modelFile);
  return { dir, model: { family: 'llama', ...m.config }, weights: m.weights, ...state };
}
