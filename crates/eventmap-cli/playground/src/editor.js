// The mapping editor: CodeMirror 6 with YAML highlighting, line numbers, and the
// compiler's diagnostics shown where they point.
import { EditorView, basicSetup } from 'codemirror';
import { yaml } from '@codemirror/lang-yaml';
import { lintGutter, setDiagnostics } from '@codemirror/lint';

export function mappingEditor(parent, text, onChange) {
  return new EditorView({
    doc: text,
    parent,
    extensions: [
      basicSetup,
      yaml(),
      lintGutter(),
      EditorView.updateListener.of((update) => {
        if (update.docChanged) onChange(update.state.doc.toString());
      }),
    ],
  });
}

// Shows the compiler's diagnostics (1-based line and column) in the editor: from the
// column to the end of its word, or the whole line when the column is at its end.
export function showDiagnostics(view, diagnostics) {
  const doc = view.state.doc;
  const marks = diagnostics.map((d) => {
    const line = doc.line(Math.min(Math.max(d.line, 1), doc.lines));
    const from = Math.min(line.from + Math.max(d.column - 1, 0), line.to);
    const rest = line.text.slice(from - line.from);
    const word = rest.match(/^[^\s:,\]}]+/);
    const to = word ? from + word[0].length : line.to;
    return {
      from: to > from ? from : line.from,
      to: to > from ? to : line.to,
      severity: 'error',
      message: d.message,
    };
  });
  view.dispatch(setDiagnostics(view.state, marks));
}

export function goToLine(view, lineNumber) {
  const line = view.state.doc.line(Math.min(Math.max(lineNumber, 1), view.state.doc.lines));
  view.dispatch({ selection: { anchor: line.from }, scrollIntoView: true });
  view.focus();
}
