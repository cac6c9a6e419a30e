"""`check_files(texts=…)`: an editor's unsaved buffer is checked instead of the file on disk,
for the file itself and for a file it imports."""
from promptdsl import api

BASE = 'task base {\n  model: "x"\n}\n'


def test_unsaved_text_replaces_the_file(tmp_path):
    path = tmp_path / "a.prompt"
    path.write_text("task a {\n  nonsense\n}\n")
    on_disk, _ = api.check_files([str(path)])
    assert any(d.is_error for d in on_disk)
    fixed = 'task a {\n  model: "x"\n  train { epochs: 2 }\n}\n'
    buffered, _ = api.check_files([str(path)], texts={str(path): fixed})
    assert [d.code for d in buffered] != [d.code for d in on_disk]
    assert all(d.file == str(path) for d in buffered)


def test_unsaved_import_is_read_from_the_buffer(tmp_path):
    main = tmp_path / "main.prompt"
    main.write_text('import "base.prompt"\ntask child extends base {\n}\n')
    missing, _ = api.check_files([str(main)])
    assert "missing-file" in {d.code for d in missing}
    buffered, _ = api.check_files([str(main)], texts={str(tmp_path / "base.prompt"): BASE})
    assert "missing-file" not in {d.code for d in buffered}
    assert "unknown-task" not in {d.code for d in buffered}
