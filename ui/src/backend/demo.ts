/**
 * Scripted sessions for `npm run dev` in a browser: a finished conversation whose turn changed a
 * file (its changes card can be undone), one whose turn ran two sub-agents side by side (each in its
 * own card), one whose agent wrote a spreadsheet, a Word document, a PDF, a chart and notes (each
 * with Preview and Open: the mock's canned previews), one waiting for a permission answer, one in plan mode
 * waiting for answers to the agent's questions (then its plan, then a host to reach; its tools'
 * network requests show as quiet lines), one whose VM failed, and an "agent" that answers new
 * messages with streamed text, a tool call that asks permission,
 * the files it changed and a turn footer. Add `?firstrun` to the URL to walk through the first-run
 * screens, `?overcap` to have every message stopped by the undo size cap.
 */
import { MockBackend } from './mock';
import * as f from './mockFrames';
import type { FrameRecord, PermissionAnswer, PermissionPrompt } from './types';

const HOME = '/home/ann';
const TAXES = `${HOME}/Documents/Taxes 2026`;
const SITE = `${HOME}/code/website`;
const PHOTOS = `${HOME}/Pictures/Holiday`;
const BLOG = `${HOME}/code/blog`;
const HOUSE = `${HOME}/Documents/Household`;
const REPORTS = `${HOME}/Documents/Reports`;
const GUEST = (folder: string, file: string) => `/sessions/demo/mnt/${folder}/${file}`;

function stored(frames: [FrameRecord['direction'], Record<string, unknown>][]): FrameRecord[] {
  const start = Date.now() - 3_600_000;
  return frames.map(([direction, body], index) => ({ seq: index + 1, direction, body, at_ms: start + index * 1000 }));
}

const TAXES_TRANSCRIPT = stored([
  ['host', { type: 'workroom_vm', state: 'running', accel: 'kvm', boot_ms: 1840 }],
  ['in', f.userMessage('Sum up the receipts in this folder and fix the total in summary.md')],
  ['out', f.init()],
  ['out', f.assistant('m1', f.thinkingBlock('The receipts are probably CSV files. I should list them first, then read each one.'))],
  ['out', f.assistant('m1', f.textBlock("I'll start by listing the receipts."))],
  ['out', f.assistant('m1', f.toolUseBlock('t0', 'TodoWrite', { todos: [
    { content: 'List the receipts', status: 'completed', activeForm: 'Listing the receipts' },
    { content: 'Add up the amounts', status: 'completed', activeForm: 'Adding up the amounts' },
    { content: 'Fix the total in summary.md', status: 'in_progress', activeForm: 'Fixing the total in summary.md' },
  ] }))],
  ['out', f.toolResult('t0', 'Todos have been modified successfully.')],
  ['out', f.assistant('m1', f.toolUseBlock('t1', 'Glob', { pattern: 'receipts/*.csv', path: GUEST('Taxes 2026', '') }))],
  ['out', f.toolResult('t1', 'receipts/jan.csv\nreceipts/feb.csv\nreceipts/mar.csv', {
    structured: { numFiles: 3, filenames: ['receipts/jan.csv', 'receipts/feb.csv', 'receipts/mar.csv'], durationMs: 4, truncated: false },
  })],
  ['out', f.assistant('m1', f.toolUseBlock('t2', 'Bash', { command: "awk -F, '{s+=$3} END {print s}' receipts/*.csv", description: 'Add up the amounts' }))],
  ['out', f.toolResult('t2', '1843.20', { structured: { stdout: '1843.20\n', stderr: '', interrupted: false } })],
  ['out', f.assistant('m1', f.toolUseBlock('t3', 'Edit', {
    file_path: GUEST('Taxes 2026', 'summary.md'),
    old_string: '## Total\n\n1,730.00 EUR',
    new_string: '## Total\n\n1,843.20 EUR',
  }))],
  ['host', { type: 'workroom_permission', request_id: 'r1', tool_name: 'Edit', tool_use_id: 't3', decision: 'allow_once', by: 'user' }],
  ['out', f.toolResult('t3', `The file ${GUEST('Taxes 2026', 'summary.md')} has been updated successfully.`)],
  ['out', f.assistant('m2', f.textBlock(
    'The three receipts add up to **1,843.20 EUR**. I updated `summary.md`:\n\n| Month | Amount |\n| --- | ---: |\n| January | 612.40 |\n| February | 530.80 |\n| March | 700.00 |\n\nThe old total (1,730.00) missed the March pharmacy receipt.',
  ))],
  ['out', f.result({ totalCostUsd: 0.0412, inputTokens: 8123, outputTokens: 912, durationMs: 14_200 })],
  ['host', f.changesRecord([f.folderChanges(TAXES, [f.modified('summary.md'), f.added('receipts/checked', 'dir'), f.added('receipts/checked/mar.csv'), f.metadata('receipts/jan.csv')])])],
  ['host', { type: 'workroom_vm', state: 'stopped', reason: 'stopped after being idle; it starts again with the next message' }],
]);

/** A turn that handed two parts to sub-agents; their frames interleave, each naming its `Task` call. */
const HOUSE_TRANSCRIPT = stored([
  ['host', { type: 'workroom_vm', state: 'running', accel: 'kvm', boot_ms: 1760 }],
  ['in', f.userMessage('Check every receipt against the bank statement and tell me what is missing')],
  ['out', f.init()],
  ['out', f.assistant('m1', f.textBlock("Two independent parts: I'll have one sub-agent list the receipts and another read the bank statement, at the same time."))],
  ['out', f.assistant('m1', f.taskBlock('a1', 'Count receipts', 'List every receipt in receipts/ with its date, shop and amount. Report them as a table.', 'receipt-reader'))],
  ['out', f.assistant('m1', f.taskBlock('a2', 'Read bank statement', 'Find every card payment in bank/2026-03.csv. Report date, payee and amount.'))],
  ['out', f.subagentPrompt('a1', 'List every receipt in receipts/ with its date, shop and amount. Report them as a table.')],
  ['out', f.subagentPrompt('a2', 'Find every card payment in bank/2026-03.csv. Report date, payee and amount.')],
  ['out', f.fromSubagent('a1', f.assistant('s1', f.textBlock("I'll find the receipt files first.")))],
  ['out', f.fromSubagent('a1', f.assistant('s1', f.toolUseBlock('a1-t1', 'Glob', { pattern: 'receipts/*.csv', path: GUEST('Household', '') })))],
  ['out', f.fromSubagent('a2', f.assistant('s2', f.toolUseBlock('a2-t1', 'Bash', { command: "grep -i 'card' bank/2026-03.csv", description: 'Find the card payments' })))],
  ['out', f.fromSubagent('a1', f.toolResult('a1-t1', 'receipts/pharmacy.csv\nreceipts/grocer.csv', {
    structured: { numFiles: 2, filenames: ['receipts/pharmacy.csv', 'receipts/grocer.csv'], durationMs: 3, truncated: false },
  }))],
  ['host', { type: 'workroom_permission', request_id: 'r-a2', tool_name: 'Bash', tool_use_id: 'a2-t1', decision: 'allow_session', by: 'user' }],
  ['out', f.fromSubagent('a2', f.toolResult('a2-t1', '', {
    structured: { stdout: '2026-03-14,CARD Pharmacy Lind,112.40\n2026-03-20,CARD Grocer Eck,58.10\n2026-03-27,CARD Hardware Moll,34.99\n', stderr: '', interrupted: false },
  }))],
  ['out', f.fromSubagent('a1', f.assistant('s3', f.toolUseBlock('a1-t2', 'Read', { file_path: GUEST('Household', 'receipts/pharmacy.csv') })))],
  ['out', f.fromSubagent('a2', f.assistant('s4', f.textBlock('| Date | Payee | Amount |\n| --- | --- | ---: |\n| 14 Mar | Pharmacy Lind | 112.40 |\n| 20 Mar | Grocer Eck | 58.10 |\n| 27 Mar | Hardware Moll | 34.99 |')))],
  ['out', f.fromSubagent('a1', f.toolResult('a1-t2', 'date,shop,amount\n2026-03-14,Pharmacy Lind,112.40', { structured: { type: 'text', file: { numLines: 2 } } }))],
  ['out', f.taskResult('a2', 'Three card payments in March: Pharmacy Lind 112.40, Grocer Eck 58.10, Hardware Moll 34.99.', { toolUses: 1, durationMs: 8_300 })],
  ['out', f.fromSubagent('a1', f.assistant('s5', f.textBlock('Two receipts: **Pharmacy Lind** 112.40 (14 Mar) and **Grocer Eck** 58.10 (20 Mar).')))],
  ['out', f.taskResult('a1', 'Two receipts: Pharmacy Lind 112.40 (14 Mar) and Grocer Eck 58.10 (20 Mar).', { toolUses: 2, durationMs: 11_600 })],
  ['out', f.assistant('m2', f.textBlock('One payment has no receipt: **Hardware Moll, 34.99 EUR on 27 March**. The other two match their receipts to the cent.'))],
  ['out', f.result({ totalCostUsd: 0.0534, inputTokens: 14_210, outputTokens: 1_204, durationMs: 19_800 })],
  ['host', { type: 'workroom_vm', state: 'stopped', reason: 'stopped after being idle; it starts again with the next message' }],
]);

/** What a document tool answers, as the agent's tools do: the same `tool_use_result` as `Write`. */
const created = (id: string, what: string, file: string, size: number) =>
  f.toolResult(id, `${what} created at: ${GUEST('Reports', file)} (${size} bytes)`, {
    structured: { type: 'create', filePath: GUEST('Reports', file), bytes: size },
  });

/** A turn that made files of every kind the preview shows. */
const REPORTS_TRANSCRIPT = stored([
  ['host', { type: 'workroom_vm', state: 'running', accel: 'kvm', boot_ms: 1690 }],
  ['in', f.userMessage('Put the first quarter expenses in a spreadsheet, write a short report in Word and as a PDF, with a chart')],
  ['out', f.init()],
  ['out', f.assistant('m1', f.toolUseBlock('d1', 'CreateSpreadsheet', {
    file_path: GUEST('Reports', 'expenses.xlsx'),
    sheets: [{ name: 'Expenses', rows: [['Date', 'Shop', 'Category', 'Amount'], ['2026-01-12', 'Pharmacy Lind', 'Health', 112.4]] }],
  }))],
  ['host', { type: 'workroom_permission', request_id: 'r-d1', tool_name: 'CreateSpreadsheet', tool_use_id: 'd1', decision: 'allow_session', by: 'user' }],
  ['out', created('d1', 'Spreadsheet expenses.xlsx', 'expenses.xlsx', 6412)],
  ['out', f.assistant('m1', f.toolUseBlock('d2', 'Bash', { command: 'python3 chart.py expenses.xlsx chart.png', description: 'Draw the chart' }))],
  ['out', f.toolResult('d2', '', { structured: { stdout: 'chart.png: 320×200\n', stderr: '', interrupted: false } })],
  ['out', f.assistant('m1', f.toolUseBlock('d3', 'CreateDocument', {
    file_path: GUEST('Reports', 'report.docx'),
    blocks: [{ type: 'heading', level: 1, text: 'Expenses, first quarter 2026' }],
  }))],
  ['out', created('d3', 'Document report.docx', 'report.docx', 9870)],
  ['out', f.assistant('m1', f.toolUseBlock('d4', 'CreatePdf', { file_path: GUEST('Reports', 'report.pdf'), blocks: [] }))],
  ['out', created('d4', 'PDF report.pdf', 'report.pdf', 48_211)],
  ['out', f.assistant('m1', f.toolUseBlock('d5', 'Write', { file_path: GUEST('Reports', 'notes.md'), content: '# Receipts 2026\n' }))],
  ['out', f.toolResult('d5', `File created successfully at: ${GUEST('Reports', 'notes.md')}`)],
  ['out', f.assistant('m2', f.textBlock('Done: **expenses.xlsx** has every receipt, **report.docx** and **report.pdf** the summary, **chart.png** the chart.'))],
  ['out', f.result({ totalCostUsd: 0.0377, inputTokens: 9_840, outputTokens: 2_310, durationMs: 21_400 })],
  ['host', f.changesRecord([f.folderChanges(REPORTS, [f.added('expenses.xlsx'), f.added('chart.png'), f.added('report.docx'), f.added('report.pdf'), f.added('notes.md'), f.deleted('draft.txt')])])],
  ['host', { type: 'workroom_vm', state: 'stopped', reason: 'stopped after being idle; it starts again with the next message' }],
]);

const SITE_TRANSCRIPT = stored([
  ['host', { type: 'workroom_vm', state: 'running', accel: 'kvm', boot_ms: 1620 }],
  ['in', f.userMessage('Clean the build folder and rebuild the site')],
  ['out', f.init()],
  ['out', f.assistant('m1', f.textBlock('I will remove the old build output first.'))],
  ['out', f.assistant('m1', f.toolUseBlock('t1', 'Bash', { command: 'rm -rf build/', description: 'Remove the old build' }))],
]);

const BLOG_QUESTIONS: f.QuestionInput[] = [
  {
    question: 'Where should the posts go?',
    header: 'Layout',
    options: [
      { label: 'By year', description: 'content/posts/2026/my-post.md, as the theme suggests' },
      { label: 'Flat', description: 'content/posts/my-post.md, as now' },
    ],
    multiSelect: false,
  },
  {
    question: 'Which extras should I keep?',
    header: 'Extras',
    options: [
      { label: 'Comments', description: 'The comment form under each post' },
      { label: 'Reading time', description: '"5 min read" next to the date' },
      { label: 'Analytics', description: 'The tracking snippet in the footer' },
    ],
    multiSelect: true,
  },
];

const BLOG_PLAN = `## Move the blog to the new theme

1. Move the **42 posts** from \`posts/\` to \`content/posts/<year>/\`, keeping their dates
2. Rewrite the front matter: \`date\`, \`tags\` and \`summary\` as the theme expects
3. Switch \`config.toml\` to the theme and copy your colours over
4. Download the theme's font into \`static/fonts/\` (the theme loads it from fonts.example.net)
5. Build the site and check every old link still works

Nothing is deleted: the old \`posts/\` folder stays until you remove it.`;

const BLOG_TRANSCRIPT = stored([
  ['host', { type: 'workroom_vm', state: 'running', accel: 'kvm', boot_ms: 1710 }],
  ['in', f.userMessage('Move my blog to the new theme. Plan it first, and read the theme docs.')],
  ['out', f.init('claude-sonnet-4-5', 'plan')],
  ['out', f.assistant('m1', f.textBlock("I'll read the theme's documentation first."))],
  ['out', f.assistant('m1', f.toolUseBlock('w1', 'WebFetch', { url: 'https://docs.example.org/theme/layout', prompt: 'How does the theme lay out posts?' }))],
  ['host', f.networkRecord('GET', 'https://docs.example.org/theme/layout', true, 'rule')],
  ['out', f.toolResult('w1', 'Posts live in content/posts/, optionally in one folder per year. Front matter: date, tags, summary.')],
  ['out', f.assistant('m1', f.toolUseBlock('b1', 'Bash', { command: 'curl -sI https://stats.tracker.example/snippet.js', description: 'Check the analytics snippet' }))],
  ['host', f.networkRecord('CONNECT', 'stats.tracker.example:443', false, 'rule')],
  ['host', f.networkRecord('CONNECT', 'api.anthropic.com:443', false, 'provider')],
  ['out', f.toolResult('b1', 'curl: (56) CONNECT tunnel failed, response 403', { isError: true, structured: { stdout: '', stderr: 'curl: (56) CONNECT tunnel failed, response 403\n' } })],
  ['out', f.assistant('m2', f.textBlock('Two things are up to you before I write the plan.'))],
  ['out', f.assistant('m2', f.toolUseBlock('q1', 'AskUserQuestion', { questions: BLOG_QUESTIONS }))],
]);

const PHOTOS_TRANSCRIPT = stored([
  ['host', { type: 'workroom_unsent', text: 'Rename the photos by the date they were taken', reason: 'the virtual machine did not answer within 60 s' }],
]);

const SUMMARY_DIFF = `--- a/summary.md
+++ b/summary.md
@@ -1,6 +1,6 @@
 # Receipts 2026

 ## Total

-1,730.00 EUR
+1,843.20 EUR
`;

/** What removing the build folder changed, as the host records it. */
function buildRemoved(backend: MockBackend, id: string) {
  const folder = backend.foldersOf(id)[0] ?? SITE;
  backend.changeFiles(id, [f.folderChanges(folder, [f.deleted('build', 'dir'), f.deleted('build/app.js'), f.deleted('build/index.html')])]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The demo turn running in a session, so an answer can reach it and Stop can cut it short. */
interface DemoTurn {
  cancelled: boolean;
  answer?: (answer: PermissionAnswer) => void;
  onCancel?: () => void;
}
const running = new Map<string, DemoTurn>();
/** Per session, the end of the last turn queued: like the agent, one turn at a time, in order. */
const chains = new Map<string, Promise<void>>();

async function streamText(backend: MockBackend, id: string, turn: { cancelled: boolean }, messageId: string, index: number, text: string) {
  backend.emit(id, f.frame(f.blockStart(index, { type: 'text', text: '' })));
  for (const word of text.match(/\S+\s*/g) ?? []) {
    if (turn.cancelled) return false;
    backend.emit(id, f.frame(f.textDelta(index, word)));
    await sleep(35);
  }
  backend.emit(id, f.frame(f.assistant(messageId, f.textBlock(text))));
  backend.emit(id, f.frame(f.blockStop(index)));
  return true;
}

/** Waits for the person's answer to `prompt` (`null`: Stop); `ask: false` when it is already pending. */
function answerTo(backend: MockBackend, id: string, turn: DemoTurn, prompt: PermissionPrompt, ask = true): Promise<PermissionAnswer | null> {
  return new Promise((resolve) => {
    turn.answer = resolve;
    turn.onCancel = () => resolve(null);
    if (ask) backend.emit(id, f.permissionEvent(prompt));
  });
}

const isAllowed = (answer: PermissionAnswer) => answer.kind !== 'deny' && answer.kind !== 'deny_with_message';

/** The agent's words for a denied tool call, as Claude Code writes them. */
const deniedText = (answer: PermissionAnswer) =>
  answer.kind === 'deny_with_message' ? `The user denied this action and said: ${answer.message}` : 'The user denied this action.';

async function demoTurn(backend: MockBackend, id: string, text: string) {
  const turn: DemoTurn = { cancelled: false };
  running.set(id, turn);
  if (backend.vmOf(id)?.state !== 'running') {
    for (const step of ['preparing the virtual machine', 'starting the virtual machine', 'starting the agent']) {
      backend.emit(id, { type: 'vm', state: 'booting', step });
      await sleep(500);
    }
    backend.emit(id, { type: 'vm', state: 'running', accel: 'kvm', boot_ms: 1500 });
  }
  backend.emit(id, f.frame(f.init()));
  const messageId = `demo-${Date.now()}`;
  backend.emit(id, f.frame(f.messageStart(messageId)));
  const intro = `You asked: *${text.slice(0, 80)}*.\n\nHere is the plan:\n\n1. Look at what is in the folder\n2. Clean up old build output\n3. Report back\n\n\`\`\`bash\nls -la\nrm -rf build/\n\`\`\``;
  if (!(await streamText(backend, id, turn, messageId, 0, intro))) return;
  const toolId = `toolu-${Date.now()}`;
  backend.emit(id, f.frame(f.blockStart(1, { type: 'tool_use', id: toolId, name: 'Bash', input: {} })));
  backend.emit(id, f.frame(f.inputDelta(1, '{"command": "rm -rf build/"}')));
  backend.emit(id, f.frame(f.assistant(messageId, f.toolUseBlock(toolId, 'Bash', { command: 'rm -rf build/', description: 'Remove old build output' }))));
  backend.emit(id, f.frame(f.blockStop(1)));
  const answer = await answerTo(backend, id, turn, f.bashPrompt(`req-${Date.now()}`, toolId, 'rm -rf build/', 'website'));
  if (!answer || turn.cancelled) return;
  const allowed = isAllowed(answer);
  backend.emit(
    id,
    f.frame(
      allowed
        ? f.toolResult(toolId, '', { structured: { stdout: 'removed build/index.html\nremoved build/app.js\n', stderr: '', interrupted: false } })
        : f.toolResult(toolId, 'The user denied this action.', { isError: true }),
    ),
  );
  if (allowed) buildRemoved(backend, id);
  await sleep(300);
  const second = `${messageId}-2`;
  backend.emit(id, f.frame(f.messageStart(second)));
  const outro = allowed ? 'Done: the old build output is gone. Want me to rebuild now?' : 'Understood, I left the build folder alone.';
  if (!(await streamText(backend, id, turn, second, 0, outro))) return;
  backend.emit(id, f.frame(f.result({ totalCostUsd: 0.0071, inputTokens: 3120, outputTokens: 164, durationMs: 6100 })));
  running.delete(id);
}

/** The stored "site" session was waiting on a question when the page loaded; its turn ends with the answer. */
function storedSiteTurn(backend: MockBackend): Promise<void> {
  return new Promise((done) => {
    running.set('site', {
      cancelled: false,
      onCancel: done,
      answer: (answer) => {
        const allowed = answer.kind !== 'deny' && answer.kind !== 'deny_with_message';
        backend.emit('site', f.frame(allowed ? f.toolResult('t1', '', { structured: { stdout: '', stderr: '' } }) : f.toolResult('t1', 'The user denied this action.', { isError: true })));
        backend.emit('site', f.frame(f.assistant('m9', f.textBlock(allowed ? 'The build folder is gone.' : 'OK, I will leave it.'))));
        if (allowed) buildRemoved(backend, 'site');
        backend.emit('site', f.frame(f.result({ totalCostUsd: 0.004 })));
        running.delete('site');
        done();
      },
    });
  });
}

/**
 * The stored "blog" session was waiting on the agent's questions when the page loaded. Answered
 * (the mock writes the agent's tool result), the agent proposes its plan; approved, it fetches a
 * font from a host nobody allowed yet, which asks.
 */
async function storedBlogTurn(backend: MockBackend): Promise<void> {
  const id = 'blog';
  const turn: DemoTurn = { cancelled: false };
  running.set(id, turn);
  const answers = await answerTo(backend, id, turn, f.questionPrompt('req-blog-q', 'q1', BLOG_QUESTIONS), false);
  if (!answers || turn.cancelled) return;
  if (!isAllowed(answers)) backend.emit(id, f.frame(f.toolResult('q1', deniedText(answers), { isError: true })));
  await sleep(400);
  backend.emit(id, f.frame(f.assistant('m3', f.textBlock('Thanks. Here is what I would do.'))));
  backend.emit(id, f.frame(f.assistant('m3', f.toolUseBlock('p1', 'ExitPlanMode', { plan: BLOG_PLAN }))));
  const verdict = await answerTo(backend, id, turn, f.planPrompt('req-blog-plan', 'p1', BLOG_PLAN, 'blog'));
  if (!verdict || turn.cancelled) return;
  if (verdict.kind !== 'approve_plan') {
    backend.emit(id, f.frame(f.toolResult('p1', deniedText(verdict), { isError: true })));
    backend.emit(id, f.frame(f.assistant('m4', f.textBlock("Understood: I'll rework the plan with that in mind before I change anything."))));
    backend.emit(id, f.frame(f.result({ totalCostUsd: 0.0188 })));
    running.delete(id);
    return;
  }
  await sleep(400);
  const url = 'https://fonts.example.net/inter.woff2';
  backend.emit(id, f.frame(f.assistant('m4', f.toolUseBlock('w2', 'WebFetch', { url, prompt: 'Download the font' }))));
  const access = await answerTo(backend, id, turn, f.networkPrompt('req-blog-net', 'fonts.example.net'));
  if (!access || turn.cancelled) return;
  const allowed = isAllowed(access);
  backend.emit(id, f.frame(f.networkRecord('GET', url, allowed, 'you')));
  backend.emit(id, f.frame(allowed ? f.toolResult('w2', 'Saved 96 KB.') : f.toolResult('w2', 'Access to fonts.example.net was refused.', { isError: true })));
  const outro = allowed ? 'The font is in `static/fonts/`. Moving the posts next.' : "I'll keep the theme's font link as it is.";
  backend.emit(id, f.frame(f.assistant('m5', f.textBlock(outro))));
  backend.emit(id, f.frame(f.result({ totalCostUsd: 0.0231, durationMs: 9400 })));
  running.delete(id);
}

export function demoBackend(): MockBackend {
  const backend = new MockBackend();
  const now = Math.floor(Date.now() / 1000);
  backend.addSession([TAXES], { id: 'taxes', title: 'Receipts total', updated_at: now - 3600, cost_usd: 0.0412 }, TAXES_TRANSCRIPT);
  backend.addSession([HOUSE], { id: 'house', title: 'Receipts against the bank statement', updated_at: now - 1800, cost_usd: 0.0534 }, HOUSE_TRANSCRIPT);
  backend.addSession([REPORTS], { id: 'reports', title: 'Quarterly expenses report', updated_at: now - 600, cost_usd: 0.0377 }, REPORTS_TRANSCRIPT);
  backend.addSession([SITE], { id: 'site', title: 'Rebuild the site', updated_at: now - 120 }, SITE_TRANSCRIPT);
  backend.addSession([BLOG], { id: 'blog', title: 'Move the blog to the new theme', permission_mode: 'plan', updated_at: now - 30 }, BLOG_TRANSCRIPT);
  backend.addSession([PHOTOS], { id: 'photos', title: 'Rename holiday photos', updated_at: now - 86_400 * 3 }, PHOTOS_TRANSCRIPT);
  backend.setLive('site', { vm: { state: 'running', accel: 'kvm', boot_ms: 1620 }, pending: [f.bashPrompt('req-site', 't1', 'rm -rf build/', 'website')] });
  backend.setLive('blog', {
    vm: { state: 'running', accel: 'kvm', boot_ms: 1710 },
    pending: [f.questionPrompt('req-blog-q', 'q1', BLOG_QUESTIONS)],
  });
  backend.setLive('photos', {
    vm: { state: 'failed', reason: 'The virtual machine did not answer within 60 s.', console_tail: '' },
    consoleLog: '[    0.000000] Linux version 6.12.0 (workroom)\n[    1.204511] virtio_vsock: probe failed\n[   60.000000] workroom-agent: giving up waiting for the host',
  });
  backend.nextPickedFolder = `${HOME}/Documents/Letters`;
  backend.setDiff(1, TAXES, 'summary.md', SUMMARY_DIFF);
  backend.setDiff(1, TAXES, 'receipts/checked/mar.csv', '--- /dev/null\n+++ b/receipts/checked/mar.csv\n@@ -0,0 +1,2 @@\n+date,shop,amount\n+2026-03-14,Pharmacy,112.40\n');
  const params = new URLSearchParams(location.search);
  if (params.has('overcap')) {
    backend.overCap = { cap_bytes: 1024 ** 3, folders: [{ folder: `${HOME}/Videos`, bytes: 9 * 1024 ** 3 }] };
  }
  if (params.has('firstrun')) {
    backend.provider = { kind: 'anthropic', base_url: null, key_source: null, configured: false };
    backend.image = { state: 'missing', arch: 'x86_64' };
  }
  chains.set('site', storedSiteTurn(backend));
  chains.set('blog', storedBlogTurn(backend));
  backend.script = {
    onSend: (b, id, text) => {
      const previous = chains.get(id) ?? Promise.resolve();
      chains.set(id, previous.then(() => demoTurn(b, id, text)));
    },
    onAnswer: (_b, id, _requestId, answer) => running.get(id)?.answer?.(answer),
    onInterrupt: (b, id) => {
      const turn = running.get(id);
      if (!turn) return;
      turn.cancelled = true;
      turn.onCancel?.();
      running.delete(id);
      for (const prompt of b.pendingOf(id)) b.emit(id, { type: 'permission_withdrawn', request_id: prompt.request_id });
      b.emit(id, f.frame(f.messageStop(true)));
      b.emit(id, f.frame(f.interruptMarker()));
      b.emit(id, f.frame(f.interruptedResult()));
    },
    onPrepareImage: async (onProgress) => {
      const steps = ['Downloading packages', 'Building the agent', 'Packing the system image'];
      for (let i = 0; i <= 30; i += 1) {
        onProgress({ step: steps[Math.min(2, Math.floor(i / 10))] ?? 'Working', fraction: i / 30 });
        await sleep(100);
      }
    },
    onPrepareUserland: async (onProgress) => {
      for (let i = 0; i <= 20; i += 1) {
        onProgress({ step: i < 14 ? 'Downloading packages' : 'Unpacking', fraction: i / 20 });
        await sleep(100);
      }
    },
  };
  return backend;
}
