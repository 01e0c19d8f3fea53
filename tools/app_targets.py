"""What ``tools/mutate_app.py`` mutates in the application, and which tests may reach it.

One row per module: the area it serves, the module, the functions to mutate
(``name`` or ``Class.method``), and the test files that may run them, the
fastest-killing first (the quick mode runs them in this order). Add a row, or
a name to a row, to mutate more; the full run finds, by running these files
once, which of their tests actually reach each function, and runs only those.

A module in ``REBUILT`` builds tables of checks at import (the metadata schema:
``record({...: Field(integer(1, 64))})``), so a mutant of one of its functions
would not reach the tables already built. There a mutant is put in place by
running the whole module's source again with the mutant in it (its classes
kept, so that ``except MetaError`` elsewhere still catches), and every test of
the row's files runs it: no spy can see which tests reach a table.
"""
from __future__ import annotations

DATA = ["tests/test_data.py"]
SAMPLING = ["tests/test_sample.py", "tests/test_train_contracts.py"]
STORE = ["tests/test_checkpoint.py", "tests/test_train_contracts.py", "tests/test_train.py",
         "tests/test_errors.py"]
TRAIN = ["tests/test_train.py", "tests/test_train_contracts.py", "tests/test_watch.py"]
BRIDGE = ["tests/test_bridge.py"]
SCHEMA = ["tests/test_schema_limits.py", "tests/test_hostile_meta.py",
          "tests/test_train_contracts.py"]
STRATEGIES = ["tests/test_sampling_strategies.py", "tests/test_sample_cli.py"]

REBUILT = {"tinyrnn.charlm.schema"}

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
    ("checkpoint schema and loading", "tinyrnn.charlm.schema",
     ["_is_int", "integer", "number", "boolean", "optional", "one_of", "text", "record",
      "any_object", "_state_structure", "_scalars", "_rng_state", "file_path",
      "check_meta"], SCHEMA),
    ("text pipeline", "tinyrnn.utils.files", ["file_kind", "check_regular", "open_regular"],
     ["tests/test_hostile_files.py"]),
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
    ("sampling", "tinyrnn.charlm.sample", ["generate", "sample"],
     SAMPLING + STRATEGIES + ["tests/test_cli.py"]),
    ("sampling", "tinyrnn.charlm.next_char", ["next_char_probs", "check_sampling",
                                              "check_prime", "step_logits"],
     STRATEGIES + SAMPLING),
    ("sampling", "tinyrnn.charlm.beam", ["best_candidates", "_log_softmax", "_follow",
                                         "beam_search"], STRATEGIES),
    ("bridge", "tinyrnn.charlm.bridge.convert", ["torch_shapes", "infer_config",
                                                 "_vocabulary", "model_from_safetensors"],
     BRIDGE),
    ("bridge", "tinyrnn.charlm.bridge.safetensors_file", ["_entry", "_check_tiling",
                                                          "read_tensors"], BRIDGE),
]
