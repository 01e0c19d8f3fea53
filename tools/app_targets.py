"""What ``tools/mutate_app.py`` mutates in the application, and which tests may reach it.

One row per module: the area it serves, the module, the functions to mutate
(``name`` or ``Class.method``), and the test files that may run them, the
fastest-killing first (the quick mode runs them in this order). Add a row, or
a name to a row, to mutate more; the full run finds, by running these files
once, which of their tests actually reach each function, and runs only those.
"""
from __future__ import annotations

DATA = ["tests/test_data.py"]
SAMPLING = ["tests/test_sample.py", "tests/test_train_contracts.py"]
STORE = ["tests/test_checkpoint.py", "tests/test_train_contracts.py", "tests/test_train.py",
         "tests/test_errors.py"]
TRAIN = ["tests/test_train.py", "tests/test_train_contracts.py"]
BRIDGE = ["tests/test_bridge.py"]

TARGETS = [
    ("text pipeline", "tinyrnn.charlm.textfile", ["_read_text", "_decode_piece", "load_ids"],
     DATA),
    ("text pipeline", "tinyrnn.charlm.train.corpus", ["fingerprint", "_read_ids",
                                                      "prepare_data"],
     TRAIN + ["tests/test_run_folders.py"]),
    ("vocabulary", "tinyrnn.charlm.vocab", ["CharVocab.__init__", "CharVocab.id_dtype",
                                            "CharVocab.encode", "CharVocab.decode",
                                            "CharVocab.from_json"],
     DATA + SAMPLING),
    ("batching", "tinyrnn.charlm.data", ["split_ids", "batchify", "num_bptt_batches",
                                         "bptt_batches"], DATA + ["tests/test_train.py"]),
    ("checkpoint schema and loading", "tinyrnn.charlm.store",
     ["model_checkpoint", "save_run", "expected_arrays", "read_checkpoint", "build_model",
      "load_model", "optimizer_state", "hidden_state", "history"], STORE),
    ("training loop", "tinyrnn.charlm.train.loop",
     ["Trainer.train_step", "Trainer.evaluate", "Trainer.validate_and_save",
      "Trainer._restore"], TRAIN),
    ("training loop", "tinyrnn.nn.state", ["flatten_state", "unflatten_state",
                                           "detach_state"],
     ["tests/test_train.py", "tests/test_recurrent.py", "tests/test_train_contracts.py"]),
    ("training loop", "tinyrnn.nn.utils", ["clip_grad_norm_"],
     ["tests/test_optim.py"] + TRAIN),
    ("training loop", "tinyrnn.optim", ["StepDecay.lr_at", "StepDecay.step"],
     ["tests/test_optim.py"] + TRAIN),
    ("sampling", "tinyrnn.charlm.sample", ["sample"], SAMPLING + ["tests/test_cli.py"]),
    ("bridge", "tinyrnn.charlm.bridge.convert", ["torch_shapes", "infer_config",
                                                 "_vocabulary", "model_from_safetensors"],
     BRIDGE),
    ("bridge", "tinyrnn.charlm.bridge.safetensors_file", ["_entry", "_check_tiling",
                                                          "read_tensors"], BRIDGE),
]
