/**
 * The fence reads commands with a timer running (its deadline). bash's `read -t` of a whole line
 * loses commands when the timer fires mid-line (it keeps the part it read; the rest becomes the next
 * "command"): measured here with a plain `read -t`, about one line in 150 under a fast timer. The
 * fence's next_line must deliver every line, whole and in order, however often its timer fires.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeSync, closeSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NEXT_LINE_FN } from './next-line.js';

const dir = mkdtempSync(join(tmpdir(), 'pgha-fence-read-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const LINES = 20_000;

/**
 * Run `reader` (bash, fd 3 = the FIFO) while LINES lines are written, one write() each as the agent
 * writes them, in bursts; with `split`, line 7 arrives in two writes 50 ms apart, so a reader's
 * timer certainly fires in the middle of it. Returns the reader's stdout.
 */
async function readAll(name: string, reader: string, split = false): Promise<string> {
  const fifo = join(dir, name);
  execFileSync('mkfifo', [fifo]);
  const child = spawn('bash', ['-c', `exec 3<"$0"\n${reader}`, fifo], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const done = new Promise<void>((res) => child.on('exit', () => res()));
  const fd = openSync(fifo, 'w');
  for (let i = 0; i < LINES; i++) {
    if (split && i === 7) {
      writeSync(fd, `${i} fe`);
      await new Promise((r) => setTimeout(r, 50));
      writeSync(fd, 'ed 14000\n');
    } else writeSync(fd, `${i} feed 14000\n`);
    if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  closeSync(fd);
  await done;
  return out;
}

const PLAIN = 'while :; do if read -r -t 0.01 -u 3 seq cmd arg; then echo "$seq $cmd $arg"; elif [ $? -le 128 ]; then break; fi; done';
const FENCE = (timer: string) => `${NEXT_LINE_FN}
while :; do next_line ${timer}; rc=$?; [ $rc = 1 ] && break; [ $rc = 0 ] && { read -r seq cmd arg <<<"$line"; echo "$seq $cmd $arg"; }; done`;
const expected = Array.from({ length: LINES }, (_, i) => `${i} feed 14000`);

describe('the fence reads every command whole under its deadline timer', () => {
  it('a plain read -t garbles a command its timer fires in the middle of (the attack works)', async () => {
    const out = (await readAll('plain', PLAIN, true)).trimEnd().split('\n');
    expect(out).not.toContain('7 feed 14000');
    expect(out.slice(6, 9)).not.toEqual(expected.slice(6, 9));
  }, 60_000);

  it('next_line delivers that command whole', async () => {
    expect((await readAll('split', FENCE('0.01'), true)).trimEnd().split('\n')).toEqual(expected);
  }, 60_000);

  it('next_line delivers every line, whole and in order, with its timer firing between and within them', async () => {
    expect((await readAll('stress', FENCE('0.0005'))).trimEnd().split('\n')).toEqual(expected);
  }, 60_000);
});
