// A template that cannot be rendered: one line that names the file, the line and the column
// ("default.conf.liquid:3:14: env.DB_HOST is not defined ..."), and exits 78 like every
// other configuration error. Messages quote the template's own text (variable and filter
// names), never a value from the environment or a secret.
import { EXIT, InitError } from '../exit-codes';

export class TemplateError extends InitError {
  constructor(
    /** The template's path, as given to renderTemplate. */
    readonly file: string,
    /** 1-based line of the offending token. */
    readonly line: number,
    /** 1-based column, in characters (UTF-16 code units), of the offending token. */
    readonly column: number,
    /** What is wrong, without the position. */
    readonly reason: string,
  ) {
    super(`${file}:${line}:${column}: ${reason}`, EXIT.CONFIG);
    this.name = 'TemplateError';
  }
}

/** The 1-based line and column of `offset` in `text`, counted as LiquidJS counts them. */
export function positionOf(text: string, offset: number): [line: number, column: number] {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return [line, offset - lineStart + 1];
}
