"""A third-party plugin's names and option schemas drive `check` exactly like the built-ins."""
import pytest

from promptdsl import MethodSpec, VerbalizerSpec, hookimpl, options_schema, registry
from promptdsl.api import check, load


class ToyPlugin:
    @hookimpl
    def promptdsl_methods(self):
        schema = options_schema({"depth": {"type": "integer", "minimum": 1, "default": 2},
                                 "rate": {"type": "number", "default": 1}})
        return [MethodSpec("toy_method", lambda model, options: None, schema, trains=False)]

    @hookimpl
    def promptdsl_verbalizers(self):
        schema = options_schema({"sharpness": {"type": "number", "default": 0.5}})
        return [VerbalizerSpec("toy_verbalizer", lambda context: None, schema)]


@pytest.fixture
def toy():
    plugin = ToyPlugin()
    registry.register(plugin, name="toy")
    yield plugin
    registry.reset()


@pytest.fixture
def write(tmp_path):
    (tmp_path / "d.tsv").write_text("text\tlabel\nhello\tyes\nbye\tno\n")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text('{"architectures": ["BertForMaskedLM"]}')

    def write(method="method toy_method { depth: 3 }",
              verbalizer='verbalizer toy_verbalizer { sharpness: 2  yes: "yes"  no: "no" }'):
        path = tmp_path / "t.prompt"
        path.write_text(f'task t {{\n  model: "./m"\n  data {{ test: "d.tsv" }}\n'
                        f'  template: "{{text}} [MASK]"\n  {verbalizer}\n  {method}\n}}\n')
        return str(path)
    return write


def test_plugin_options_validate_and_fill_defaults(toy, write):
    ir = load(write())
    assert ir["methods"] == [{"name": "toy_method", "options": {"depth": 3, "rate": 1.0}}]
    assert ir["verbalizer"]["options"] == {"sharpness": 2.0}
    assert [entry["label"] for entry in ir["verbalizer"]["labels"]] == ["yes", "no"]


def test_plugin_option_errors_are_located(toy, write):
    diags = check([write(method="method toy_method { depth: 0, dept: 1 }")])
    assert sorted((d.code, d.line) for d in diags) == [("invalid-value", 6),
                                                       ("unknown-field", 6)]
    typo = next(d for d in diags if d.code == "unknown-field")
    assert "did you mean `depth`" in typo.hint


def test_undeclared_bare_key_is_a_label(toy, write):
    diags = check([write(verbalizer='verbalizer toy_verbalizer { sharp: 2  yes: "y"  no: "n" }')])
    codes = sorted(d.code for d in diags)
    assert "invalid-label-word" in codes


def test_unknown_names_list_the_plugin(toy, write):
    diags = check([write(method="method toy_metod { }")])
    diag, = [d for d in diags if d.code == "unknown-method"]
    assert "did you mean `toy_method`" in diag.hint


def test_schema_command_merges_plugin_schemas(toy):
    from promptdsl.ir import ir_schema
    schema = ir_schema()
    assert "toy_method" in schema["properties"]["methods"]["items"]["properties"]["name"]["enum"]


def test_a_misspelt_hook_is_a_plugin_error_naming_the_plugin():
    from promptdsl.errors import PluginError

    class Misspelt:
        @hookimpl
        def promptdsl_method(self):          # the hook is `promptdsl_methods`
            return []
    try:
        with pytest.raises(PluginError, match=r"plugin `misspelt` implements `promptdsl_method`, "
                                              r"which is not a promptdsl hook; did you mean "
                                              r"`promptdsl_methods`\?"):
            registry.register(Misspelt(), name="misspelt")
        assert "misspelt" not in {p.name for p in registry.get_registry().plugins}
        assert "lora" in registry.get_registry().methods   # the rest still loads
    finally:
        registry.reset()


def test_a_hook_with_wrong_arguments_is_a_plugin_error():
    from promptdsl.errors import PluginError

    class WrongArgs:
        @hookimpl
        def promptdsl_methods(self, model):
            return []
    try:
        with pytest.raises(PluginError, match="plugin `wrong`"):
            registry.register(WrongArgs(), name="wrong")
    finally:
        registry.reset()
