/** The layer groups a LoRA adapter can target (`train.adapter.targets`; what each selects: src/model/lora.ts). */
export const LORA_TARGETS = ["attn_q", "attn_k", "attn_v", "attn_out", "text_proj", "time", "conv3x3", "conv1x1", "text_encoder"] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];
