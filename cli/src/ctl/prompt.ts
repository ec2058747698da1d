/**
 * click-style prompts on stdin/stdout: `Question [default]: ` and `Question [y/N]: `. One line reader
 * serves every prompt of a command, so answers piped on stdin (not a TTY) are read line by line in
 * order. End of input aborts, as click does.
 */
import { createInterface, type Interface } from 'node:readline';
import { CtlError } from './errors.js';

class LineQueue {
  private rl: Interface | null = null;
  private readonly lines: string[] = [];
  private readonly waiting: Array<(line: string | null) => void> = [];
  private ended = false;

  private start(): void {
    if (this.rl) return;
    // terminal: false: the TTY echoes typed text itself; readline must not redraw our prompt.
    this.rl = createInterface({ input: process.stdin, terminal: false });
    this.rl.on('line', (line) => {
      const w = this.waiting.shift();
      if (w) w(line);
      else this.lines.push(line);
    });
    this.rl.on('close', () => {
      this.ended = true;
      for (const w of this.waiting.splice(0)) w(null);
    });
  }

  next(): Promise<string | null> {
    this.start();
    if (this.lines.length) return Promise.resolve(this.lines.shift()!);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  close(): void {
    this.rl?.close();
    this.rl = null;
  }
}

let queue: LineQueue | null = null;

async function readAnswer(text: string): Promise<string> {
  process.stdout.write(text);
  const line = await (queue ??= new LineQueue()).next();
  if (line === null) {
    process.stdout.write('\n');
    throw new CtlError('Aborted!');
  }
  return line;
}

/** `text [default]: `; an empty answer takes the default; without a default, asks again. */
export async function prompt(text: string, o: { default?: string } = {}): Promise<string> {
  for (;;) {
    const suffix = o.default !== undefined && o.default !== '' ? ` [${o.default}]` : '';
    const answer = (await readAnswer(`${text}${suffix}: `)).trim();
    if (answer) return answer;
    if (o.default !== undefined) return o.default;
  }
}

/** `text [y/N]: ` (or `[Y/n]` with a true default). */
export async function confirm(text: string, dflt = false): Promise<boolean> {
  for (;;) {
    const answer = (await readAnswer(`${text} [${dflt ? 'Y/n' : 'y/N'}]: `)).trim().toLowerCase();
    if (!answer) return dflt;
    if (answer === 'y' || answer === 'yes') return true;
    if (answer === 'n' || answer === 'no') return false;
    process.stdout.write('Error: invalid input\n');
  }
}

/** Release stdin so the process can exit. */
export function closePrompts(): void {
  queue?.close();
  queue = null;
}
