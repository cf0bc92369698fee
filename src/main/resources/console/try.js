// Try: a playground on an ACTIVE tuned model or a base model: turns, sampling settings, a streamed answer, token
// counts, and the same request as curl and Python SDK snippets (the key elided).
import * as api from './api.js';
import { h, field, say } from './dom.js';

function snippets(model, body) {
  const json = JSON.stringify(body, null, 2);
  const curl = `curl -X POST "$base_url/v1beta/${model}:streamGenerateContent?alt=sse" \\\n`
    + '  -H "x-goog-api-key: $API_KEY" -H "Content-Type: application/json" \\\n'
    + `  -d '${json.replaceAll("'", "'\\''")}'`;
  const c = body.generationConfig;
  const python = 'import os\nfrom google import genai\nfrom google.genai import types\n\n'
    + 'client = genai.Client(api_key=os.environ["API_KEY"],\n'
    + '                      http_options=types.HttpOptions(base_url=os.environ["base_url"]))\n'
    + `for chunk in client.models.generate_content_stream(\n    model=${JSON.stringify(model)},\n`
    + `    contents=${JSON.stringify(body.contents)},\n`
    + `    config=types.GenerateContentConfig(temperature=${c.temperature}, top_p=${c.topP}, top_k=${c.topK},\n`
    + `                                       max_output_tokens=${c.maxOutputTokens})):\n    print(chunk.text, end="")`;
  return { curl, python };
}

export async function tryPage(show, chosen) {
  const [base, tuned] = await Promise.all([
    api.call('GET', '/v1beta/models?pageSize=1000'),
    api.call('GET', '/v1beta/tunedModels?pageSize=1000'),
  ]);
  const active = (tuned.tunedModels || []).filter(m => m.state === 'ACTIVE');
  const model = h('select', { name: 'model', id: 'model' },
    h('optgroup', { label: 'Tuned models (ACTIVE)' }, active.map(m => h('option', { value: m.name }, `${m.displayName || m.name} (${m.name})`))),
    h('optgroup', { label: 'Base models' }, (base.models || []).map(m => h('option', { value: m.name }, m.name))));
  if (chosen) model.value = chosen;
  const turns = h('div', { id: 'turns' });
  const addTurn = (role, text = '') => {
    const n = turns.children.length + 1;
    const t = h('textarea', { 'data-role': role, name: `turn${n}` }, text);
    turns.append(field(`Turn ${n} (${role})`, t));
    return t;
  };
  addTurn('user');
  const num = (name, value, attrs) => h('input', { type: 'number', name, value, step: 'any', ...attrs });
  const temperature = num('temperature', 0.7, { min: 0, max: 2 });
  const topP = num('topP', 0.95, { min: 0, max: 1 });
  const topK = num('topK', 40, { min: 1, step: 1 });
  const maxTokens = num('maxOutputTokens', 64, { min: 1, step: 1 });
  const answer = h('div', { class: 'answer', id: 'answer', 'aria-live': 'polite' });
  const counts = h('p', { id: 'token-counts', class: 'muted' });
  const error = h('p', { class: 'bad', role: 'alert' });
  const curl = h('pre', { id: 'curl-snippet' });
  const python = h('pre', { id: 'sdk-snippet' });
  const go = h('button', { type: 'submit', id: 'generate' }, 'Generate');

  function request() {
    const contents = [...turns.querySelectorAll('textarea')].filter(t => t.value.trim())
      .map(t => ({ role: t.dataset.role, parts: [{ text: t.value }] }));
    return {
      contents,
      generationConfig: { temperature: Number(temperature.value), topP: Number(topP.value), topK: Number(topK.value), maxOutputTokens: Number(maxTokens.value) },
    };
  }
  function refreshSnippets() {
    const s = snippets(model.value, request());
    curl.textContent = s.curl;
    python.textContent = s.python;
  }

  const form = h('form', {
    oninput: refreshSnippets, onchange: refreshSnippets,
    onsubmit: async e => {
      e.preventDefault();
      const body = request();
      if (!body.contents.length) { error.textContent = 'Write a prompt first.'; return; }
      error.textContent = '';
      answer.textContent = '';
      counts.textContent = '';
      go.disabled = true;
      let text = '';
      try {
        await api.stream(`/v1beta/${model.value}:streamGenerateContent`, body, chunk => {
          for (const part of chunk.candidates?.[0]?.content?.parts || []) text += part.text || '';
          answer.textContent = text;
          const u = chunk.usageMetadata;
          if (u) counts.textContent = `prompt ${u.promptTokenCount ?? 0} tokens · answer ${u.candidatesTokenCount ?? 0} · total ${u.totalTokenCount ?? 0}`;
        });
        say('Answer complete');
        addTurn('model', text);
        addTurn('user').focus();
        refreshSnippets();
      } catch (err) { error.textContent = err.message; }
      go.disabled = false;
    },
  },
  field('Model', model), turns,
  h('div', { class: 'row' }, field('Temperature', temperature), field('topP', topP), field('topK', topK), field('Max output tokens', maxTokens)),
  h('p', {}, go), h('h2', {}, 'Answer'), answer, counts, error,
  h('h2', {}, 'The same request'), h('h3', {}, 'curl'), curl, h('h3', {}, 'Python (google-genai)'), python);
  show('Playground', form);
  refreshSnippets();
}
