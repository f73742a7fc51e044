#!/usr/bin/env python3
"""The reference merge the benchmark times: PEFT's merge_and_unload + save_pretrained.
Usage: merge_peft.py BASE_DIR ADAPTER_DIR OUT_DIR f32|bf16"""
import sys

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

base, adapter, out, dtype = sys.argv[1:5]
model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16 if dtype == "bf16" else torch.float32)
model = PeftModel.from_pretrained(model, adapter)
model = model.merge_and_unload()
model.save_pretrained(out)
