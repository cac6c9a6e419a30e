"""`promptc check` on rules over several masks (PTR) and on `multi_token: sequence`: every
mistake located at what is wrong, clean files clean, the IR holding each word's mask."""
import json

import pytest

from promptdsl.api import check, load

DATA = ("sentence\te1\te2\trelation\nthe cup holds tea\tcup\ttea\tA(e1,e2)\n"
        "tea in a cup\ttea\tcup\tA(e2,e1)\na cat and a dog\tcat\tdog\tOther\n")
TEMPLATE = "{sentence} The [MASK:e1] {e1} is [MASK:rel] the [MASK:e2] {e2}."
RULES = '''
    "A(e1,e2)": e1 "container", rel "holding", e2 "content"
    "A(e2,e1)": e1 "content", rel "in", e2 "container"
    "Other": e1 "thing", rel "and", e2 "thing"'''


@pytest.fixture
def write(tmp_path):
    (tmp_path / "d.tsv").write_text(DATA)
    for name, arch in (("mlm", "BertForMaskedLM"), ("causal", "LlamaForCausalLM"),
                       ("seq2seq", "T5ForConditionalGeneration")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "config.json").write_text(json.dumps({"architectures": [arch]}))

    def make(rules=RULES, template=TEMPLATE, model="causal", extra="", kind="rules"):
        path = tmp_path / "t.prompt"
        path.write_text(f'task t {{\n  model: "./{model}"\n  data {{ test: "d.tsv"  label: '
                        f'relation }}\n  template: "{template}"\n  verbalizer {kind} {{{rules}\n'
                        f'{extra}  }}\n  method zero_shot {{ }}\n}}\n')
        return str(path)
    return make


def found(diags) -> dict:
    """code -> (line, column) of the first error with that code."""
    out = {}
    for d in diags:
        if d.severity == "error":
            out.setdefault(d.code, (d.line, d.column))
    return out


@pytest.mark.parametrize("model", ["causal", "mlm"])
def test_rules_check_clean_on_masked_and_causal_models(write, model):
    path = write(model=model)
    assert check([path]) == []
    ir = load(path)
    assert ir["verbalizer"]["labels"][1] == {"label": "A(e2,e1)",
                                             "words": ["content", "in", "container"],
                                             "masks": ["e1", "rel", "e2"]}


def test_answers_option_is_checked_against_every_rule(write):
    answers = '    answers: e1 "container", e1 "content", e1 "thing", rel "holding", rel ' \
              '"in", rel "and", e2 "content", e2 "container", e2 "thing"\n'
    assert check([write(extra=answers)]) == []
    diags = check([write(extra=answers.replace('rel "and", ', ''))])
    assert found(diags) == {"unknown-word": (8, 26)}      # the "and" of label Other
    assert "answers of `rel`" in next(d for d in diags if d.code == "unknown-word").hint


def test_rule_mistakes_are_located(write):
    rules = '''
    "A(e1,e2)": e1 "container", rel "holding", e3 "content"
    "A(e2,e1)": e1 "content", e1 "in", e2 "container"
    "Other": "thing", rel "and", e2 "thing"'''
    codes = found(check([write(rules)]))
    assert codes["unknown-mask"] == (6, 48)        # e3: no such mask
    assert codes["repeated-mask"] == (7, 31)       # e1 twice
    assert codes["rule-missing-mask"] == (6, 5)    # A(e1,e2) has no e2
    assert codes["untagged-word"] == (8, 14)       # a plain word in a rule


def test_template_masks_must_be_named_once(write):
    codes = found(check([write(template="{sentence} [MASK:e1] [MASK] [MASK:rel] [MASK:rel] "
                                        "[MASK:e2]")]))
    assert set(codes) == {"unnamed-mask", "repeated-mask"}


def test_identical_rules_and_tagged_words_elsewhere(write):
    twins = RULES.replace('e1 "thing", rel "and", e2 "thing"',
                          'e1 "content", rel "in", e2 "container"')
    assert "identical-rules" in found(check([write(twins)]))
    manual = found(check([write('\n    "A(e1,e2)": e1 "container"\n    "A(e2,e1)": "in"\n'
                                '    "Other": "thing"',
                                template="{sentence} [MASK]", kind="")]))
    assert "tagged-word" in manual


def test_seq2seq_mask_field_and_demonstrations_are_errors(write, tmp_path):
    assert "rules-model" in found(check([write(model="seq2seq")]))
    assert "rules-mask-field" in found(check([write(extra="    mask: e1\n")]))
    path = write()
    text = open(path).read().replace('label: relation', 'label: relation  train: "d.tsv"  '
                                     'demonstrations: 1')
    open(path, "w").write(text)
    assert found(check([path])) == {"not-supported": (3, 74)}


def test_multi_token_sequence_needs_a_model_that_continues_the_prompt(write):
    words = '\n    multi_token: sequence\n    "A(e1,e2)": "holding"\n    "A(e2,e1)": "in"\n' \
            '    "Other": "and"'
    assert check([write(words, template="{sentence} [MASK]", kind="")]) == []
    codes = found(check([write(words, template="{sentence} [MASK]", kind="", model="mlm")]))
    assert codes == {"generation-model": (6, 18)}


@pytest.mark.parametrize("answers", ['"x"', 'e1 3'])
def test_an_invalid_answers_option_is_one_error_not_one_per_word(write, answers):
    diags = [d for d in check([write(extra=f"    answers: {answers}\n")])
             if d.severity == "error"]
    assert [d.code for d in diags] == ["invalid-value"]
    assert "tagged value" in diags[0].message or "string" in diags[0].message


def test_an_invalid_word_is_reported_once(write):
    rules = RULES.replace('e2 "container"', 'e2 3')
    codes = [d.code for d in check([write(rules)]) if d.severity == "error"]
    assert codes == ["invalid-label-word"]      # not also "gives no word for e2"
