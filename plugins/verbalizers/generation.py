"""`verbalizer generation { "0": "terrible"  "1": "great" }`: classification by generation
(OpenPrompt's GenerationVerbalizer), for causal and seq2seq models.

Each label word is scored as a generation target: its full log-probability as the continuation
of the prompt (every token of a multi-token word, then the end of sequence, as a generation
task's target is trained), all (row, word) pairs of a batch in one pass. From there the manual
pipeline applies: softmax over the words, `calibrate`, the mean log-probability of each label's
words. Training is the usual cross-entropy over the label scores.
"""
from __future__ import annotations

from promptdsl import VerbalizerSpec
from promptdsl.errors import ModelError
# the whole word is scored, so `multi_token` does not apply: only `calibrate`
from promptdsl.options import CalibrateOptions as GenerationOptions


def build(context):
    from promptdsl.data import answer_token_ids
    from promptdsl.model import Verbalizer

    class SequenceVerbalizer(Verbalizer):
        Options = GenerationOptions
        end_of_sequence = True

        def __init__(self, context):
            if not context.model.family_rules.generates:
                raise ModelError(f"verbalizer generation scores label words as generated text, "
                                 f"which needs a causal or seq2seq model; model "
                                 f"`{context.model_name}` is {context.family}")
            super().__init__(context)
            flat_words = [w for words in self.words for w in words]
            self._sequences = answer_token_ids(context.tokenizer, context.family, flat_words,
                                               context.mask_space)

        @property
        def sequences(self) -> tuple:
            return self._sequences

    return SequenceVerbalizer(context)


SPECS = [VerbalizerSpec("generation", build, options=GenerationOptions, needs_generation=True,
                        description="label words scored as generated text (causal, seq2seq)")]
