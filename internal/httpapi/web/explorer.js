// The Explorer page: sign in with the project id and master key, build a
// Keen query from the project's schema (GET /events), run it (POST
// /queries/{analysis}), see it as a line chart (intervals), bars (groups), a
// table (extractions, unique values) or a number, copy it as a curl command,
// and save it as a Keen saved query (PUT /queries/saved/{name}). Charts are
// drawn by the vendored Chart.js (web/vendor/); every value from the server is
// written with textContent. The server validates queries: the page only
// turns its fields into Keen's parameters and shows the server's errors.
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const meta = (name) => (document.querySelector('meta[name="' + name + '"]') || {}).content || '';
  const pagePID = meta('sluice-project-id');
  const palette = ['#0b5cad', '#c2410c', '#1a7f37', '#8250df', '#b3261e', '#0e7490', '#9a6700', '#57606a'];
  const needsTarget = new Set(['count_unique', 'sum', 'average', 'minimum', 'maximum', 'median', 'percentile', 'standard_deviation', 'select_unique']);
  const analyses = new Set(['count', 'extraction'].concat([...needsTarget]));
  const maxTableRows = 1000;

  let collections = []; // GET /events: [{name, properties: {path: type}}]
  let chart = null;
  let filterSeq = 0;

  // Sign-in and the API calls: session.js (the same key as the Streams
  // page's). The project resource answers the master key only.
  const { api } = window.sluiceSession({
    page: 'explorer',
    check: (call) => call('GET', ''),
    onSignIn: () => showDashboard(),
    onSignOut: () => {
      $('dashboard').hidden = true;
    },
  });

  async function showDashboard() {
    $('sign-in').hidden = true;
    $('dashboard').hidden = false;
    $('sign-out').hidden = false;
    fillTimezones();
    await loadCollections();
    showAnalysisFields();
    updateCurl();
    await loadSaved();
    $('query-title').setAttribute('tabindex', '-1');
    $('query-title').focus();
  }

  // --- the form ---

  function option(value, text) {
    const o = document.createElement('option');
    o.value = value;
    o.textContent = text === undefined ? value : text;
    return o;
  }

  function fillTimezones() {
    const list = $('timezones');
    if (list.children.length) return;
    let zones = ['UTC'];
    try { zones = zones.concat(Intl.supportedValuesOf('timeZone').filter((z) => z !== 'UTC')); } catch (e) { /* older browsers: UTC only */ }
    list.replaceChildren(...zones.map((z) => option(z)));
  }

  async function loadCollections() {
    try {
      collections = await api('GET', '/events');
    } catch (e) {
      $('query-error').textContent = 'Could not read the collections: ' + e.message;
      collections = [];
    }
    const sel = $('collection');
    const keep = sel.value;
    sel.replaceChildren(...collections.map((c) => option(c.name)));
    if (collections.some((c) => c.name === keep)) sel.value = keep;
    $('collections-empty').hidden = collections.length !== 0;
    $('run-query').disabled = collections.length === 0;
    fillProperties();
  }

  function currentProperties() {
    const c = collections.find((x) => x.name === $('collection').value);
    return c ? c.properties : {};
  }

  // fillProperties lists the collection's properties wherever a property is
  // picked, keeping the choices that still exist.
  function fillProperties() {
    const props = currentProperties();
    const names = Object.keys(props).sort();
    const target = $('target-property');
    const keepTarget = target.value;
    target.replaceChildren(...names.map((n) => option(n, n + ' (' + props[n] + ')')));
    if (names.includes(keepTarget)) target.value = keepTarget;
    const group = $('group-by');
    const keepGroups = new Set([...group.selectedOptions].map((o) => o.value));
    group.replaceChildren(...names.filter((n) => n !== 'keen.id').map((n) => {
      const o = option(n, n + ' (' + props[n] + ')');
      o.selected = keepGroups.has(n);
      return o;
    }));
    for (const row of $('filters').children) {
      const sel = row.querySelector('.filter-property');
      const keep = sel.value;
      sel.replaceChildren(...names.map((n) => option(n)));
      if (names.includes(keep)) sel.value = keep;
    }
    fillOrderBy();
  }

  // fillOrderBy offers the result and the chosen group_by properties, the
  // only things Keen orders groups by; it shows only with a group_by.
  function fillOrderBy() {
    const groups = $('group-by').disabled ? [] : [...$('group-by').selectedOptions].map((o) => o.value);
    const sel = $('order-by');
    const keep = sel.value;
    sel.replaceChildren(option('', 'none (by group values)'), option('result'), ...groups.map((g) => option(g)));
    sel.value = keep === 'result' || groups.includes(keep) ? keep : '';
    $('order-fields').hidden = groups.length === 0;
  }

  function showAnalysisFields() {
    const a = $('analysis').value;
    $('target-field').hidden = !needsTarget.has(a);
    $('percentile-field').hidden = a !== 'percentile';
    $('latest-field').hidden = a !== 'extraction';
    // Keen takes neither group_by nor interval on an extraction.
    $('group-by').disabled = a === 'extraction';
    $('interval').disabled = a === 'extraction';
    fillOrderBy();
  }

  function showTimeframeFields() {
    const kind = $('timeframe-kind').value;
    for (const el of document.querySelectorAll('.relative-part')) el.hidden = kind !== 'relative';
    for (const el of document.querySelectorAll('.absolute-part')) el.hidden = kind !== 'absolute';
    if (kind === 'absolute' && !$('timeframe-start').value && !$('timeframe-end').value) {
      const day = 24 * 3600 * 1000;
      const midnight = Math.floor(Date.now() / day) * day;
      $('timeframe-start').value = new Date(midnight - 6 * day).toISOString().replace('.000Z', 'Z');
      $('timeframe-end').value = new Date(midnight + day).toISOString().replace('.000Z', 'Z');
    }
  }

  $('collection').addEventListener('change', fillProperties);
  $('group-by').addEventListener('change', fillOrderBy);
  $('analysis').addEventListener('change', showAnalysisFields);
  $('timeframe-kind').addEventListener('change', showTimeframeFields);
  $('refresh-collections').addEventListener('click', async () => {
    $('query-error').textContent = '';
    await loadCollections();
    updateCurl();
  });

  // --- filters ---

  const operators = ['eq', 'ne', 'lt', 'lte', 'gt', 'gte', 'exists', 'in', 'contains', 'not_contains', 'regex', 'within'];
  const valueTypes = ['String', 'Number', 'Boolean', 'Null', 'JSON'];

  // defaultValueType is what a value is read as, from the operator and the
  // property's type in the schema; the person can change it.
  function defaultValueType(operator, schemaType) {
    if (operator === 'exists') return 'Boolean';
    if (operator === 'in' || operator === 'within') return 'JSON';
    if (operator === 'regex' || operator === 'contains' || operator === 'not_contains') return 'String';
    return { num: 'Number', bool: 'Boolean', null: 'Null', list: 'JSON' }[schemaType] || 'String';
  }

  function field(labelText, control) {
    const wrap = document.createElement('div');
    wrap.className = 'field';
    const label = document.createElement('label');
    label.htmlFor = control.id;
    label.textContent = labelText;
    wrap.append(label, control);
    return wrap;
  }

  function addFilter(f) {
    const n = ++filterSeq;
    const row = document.createElement('div');
    row.className = 'filter-row';
    const prop = document.createElement('select');
    prop.id = 'filter-' + n + '-property';
    prop.className = 'filter-property';
    const names = Object.keys(currentProperties()).sort();
    prop.replaceChildren(...names.map((x) => option(x)));
    const op = document.createElement('select');
    op.id = 'filter-' + n + '-operator';
    op.className = 'filter-operator';
    op.replaceChildren(...operators.map((x) => option(x)));
    const value = document.createElement('input');
    value.id = 'filter-' + n + '-value';
    value.className = 'filter-value';
    value.spellcheck = false;
    const type = document.createElement('select');
    type.id = 'filter-' + n + '-type';
    type.className = 'filter-type';
    type.replaceChildren(...valueTypes.map((x) => option(x)));
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.className = 'secondary';
    remove.textContent = 'Remove';
    const retype = () => { type.value = defaultValueType(op.value, currentProperties()[prop.value]); };
    prop.addEventListener('change', retype);
    op.addEventListener('change', retype);
    remove.addEventListener('click', () => {
      row.remove();
      labelFilters();
      updateCurl();
      $('add-filter').focus();
    });
    row.append(field('Property', prop), field('Operator', op), field('Value', value), field('Value type', type), remove);
    $('filters').appendChild(row);
    if (f) {
      if (![...prop.options].some((o) => o.value === f.property_name)) prop.appendChild(option(f.property_name));
      prop.value = f.property_name;
      op.value = f.operator;
      const v = f.property_value;
      type.value = v === null ? 'Null' : typeof v === 'number' ? 'Number' : typeof v === 'boolean' ? 'Boolean' : typeof v === 'string' ? 'String' : 'JSON';
      value.value = type.value === 'JSON' ? JSON.stringify(v) : v === null ? '' : String(v);
    } else {
      retype();
    }
    labelFilters();
    return row;
  }

  // labelFilters numbers the filters' labels ("Filter 2 value"), so that each
  // control has a name of its own for assistive technology.
  function labelFilters() {
    const rows = [...$('filters').children];
    rows.forEach((row, i) => {
      const labels = row.querySelectorAll('label');
      ['property', 'operator', 'value', 'value type'].forEach((what, j) => { labels[j].textContent = 'Filter ' + (i + 1) + ' ' + what; });
      row.querySelector('button').setAttribute('aria-label', 'Remove filter ' + (i + 1));
    });
    $('filters-empty').hidden = rows.length !== 0;
  }

  $('add-filter').addEventListener('click', () => {
    const row = addFilter();
    updateCurl();
    row.querySelector('select').focus();
  });

  function filterValue(type, text, label) {
    switch (type) {
      case 'String': return text;
      case 'Null': return null;
      case 'Number': {
        const n = Number(text);
        if (text.trim() === '' || !Number.isFinite(n)) throw new Error(label + ' is not a number.');
        return n;
      }
      case 'Boolean':
        if (text.trim() === 'true') return true;
        if (text.trim() === 'false') return false;
        throw new Error(label + ' must be true or false.');
      default:
        try { return JSON.parse(text); } catch (e) { throw new Error(label + ' is not JSON (an array is written ["a", "b"]).'); }
    }
  }

  // --- the query ---

  // buildQuery turns the form into Keen's parameters: {analysis, params}.
  function buildQuery() {
    const analysis = $('analysis').value;
    const params = { event_collection: $('collection').value };
    if (needsTarget.has(analysis)) params.target_property = $('target-property').value;
    if (analysis === 'percentile') params.percentile = Number($('percentile').value);
    const kind = $('timeframe-kind').value;
    if (kind === 'relative') {
      params.timeframe = $('relative-edge').value + '_' + $('relative-count').value.trim() + '_' + $('relative-unit').value;
    } else if (kind === 'absolute') {
      params.timeframe = { start: $('timeframe-start').value.trim(), end: $('timeframe-end').value.trim() };
    }
    const tz = $('timezone').value.trim();
    if (tz !== '' && tz !== 'UTC') params.timezone = /^[-+]?\d+$/.test(tz) ? Number(tz) : tz;
    if (analysis !== 'extraction') {
      if ($('interval').value) params.interval = $('interval').value;
      const groups = [...$('group-by').selectedOptions].map((o) => o.value);
      if (groups.length === 1) params.group_by = groups[0];
      if (groups.length > 1) params.group_by = groups;
      if (groups.length && $('order-by').value) params.order_by = { property_name: $('order-by').value, direction: $('order-direction').value };
      if (groups.length && $('limit').value.trim() !== '') params.limit = Number($('limit').value);
    }
    const filters = [...$('filters').children].map((row, i) => ({
      property_name: row.querySelector('.filter-property').value,
      operator: row.querySelector('.filter-operator').value,
      property_value: filterValue(row.querySelector('.filter-type').value, row.querySelector('.filter-value').value, 'Filter ' + (i + 1) + ' value'),
    }));
    if (filters.length) params.filters = filters;
    if (analysis === 'extraction' && $('latest').value.trim() !== '') params.latest = Number($('latest').value);
    return { analysis, params };
  }

  // applyQuery fills the form from a saved query's parameters.
  function applyQuery(analysis, p) {
    const problems = [];
    if (!analyses.has(analysis)) {
      // A funnel or multi_analysis saved through the API: its result is
      // shown as JSON, and the form is left as it was.
      $('query-error').textContent = 'The form cannot show a ' + analysis + ' query; its result is shown as JSON.';
      return;
    }
    const sel = $('collection');
    if (![...sel.options].some((o) => o.value === p.event_collection)) sel.appendChild(option(p.event_collection));
    sel.value = p.event_collection;
    fillProperties();
    $('analysis').value = analysis;
    showAnalysisFields();
    if (p.target_property) {
      const t = $('target-property');
      if (![...t.options].some((o) => o.value === p.target_property)) t.appendChild(option(p.target_property));
      t.value = p.target_property;
    }
    if (p.percentile !== undefined) $('percentile').value = p.percentile;
    applyTimeframe(p.timeframe, problems);
    $('timezone').value = p.timezone === undefined || p.timezone === null ? 'UTC' : String(p.timezone);
    const iv = $('interval');
    if (p.interval && ![...iv.options].some((o) => o.value === p.interval)) iv.appendChild(option(p.interval));
    iv.value = p.interval || '';
    const groups = new Set(p.group_by === undefined || p.group_by === null ? [] : [].concat(p.group_by));
    for (const o of $('group-by').options) o.selected = groups.has(o.value);
    applyOrderBy(p.order_by, problems);
    $('limit').value = p.limit === undefined || p.limit === null ? '' : p.limit;
    $('filters').replaceChildren();
    for (const f of p.filters || []) {
      if (f.operator === 'or') { problems.push('the page cannot edit an "or" filter'); continue; }
      addFilter(f);
    }
    labelFilters();
    $('latest').value = p.latest === undefined ? '' : p.latest;
    $('query-error').textContent = problems.length ? 'The form shows this query in part: ' + problems.join('; ') + '.' : '';
    updateCurl();
  }

  // applyOrderBy takes Keen's forms of order_by: a name, an object, or a
  // list of them (the form holds one).
  function applyOrderBy(ob, problems) {
    fillOrderBy();
    const list = ob === undefined || ob === null ? [] : [].concat(ob);
    if (list.length > 1) problems.push('the form orders by one property, the query by ' + list.length);
    const first = list.length ? (typeof list[0] === 'string' ? { property_name: list[0] } : list[0]) : { property_name: '' };
    const sel = $('order-by');
    if (first.property_name && ![...sel.options].some((o) => o.value === first.property_name)) sel.appendChild(option(first.property_name));
    sel.value = first.property_name || '';
    $('order-direction').value = String(first.direction || 'ASC').toUpperCase();
  }

  function applyTimeframe(tf, problems) {
    const shortcuts = { today: 'this_1_days', yesterday: 'previous_1_days' };
    for (const u of ['minute', 'hour', 'day', 'week', 'month', 'year']) {
      shortcuts['this_' + u] = 'this_1_' + u + 's';
      shortcuts['previous_' + u] = 'previous_1_' + u + 's';
    }
    if (tf === undefined || tf === null) {
      $('timeframe-kind').value = 'all';
    } else if (typeof tf === 'object') {
      $('timeframe-kind').value = 'absolute';
      $('timeframe-start').value = tf.start || '';
      $('timeframe-end').value = tf.end || '';
    } else {
      const m = /^(this|previous)_(\d+)_([a-z]+)$/.exec(shortcuts[tf] || tf);
      if (m) {
        $('timeframe-kind').value = 'relative';
        $('relative-edge').value = m[1];
        $('relative-count').value = m[2];
        $('relative-unit').value = m[3];
      } else {
        problems.push('timeframe ' + tf + ' is not one the form offers');
      }
    }
    showTimeframeFields();
  }

  // --- curl ---

  const shellQuote = (s) => "'" + s.replace(/'/g, "'\\''") + "'";

  function curlFor(q) {
    const url = window.location.origin + '/3.0/projects/' + pagePID + '/queries/' + q.analysis;
    return [
      'curl -X POST ' + shellQuote(url) + ' \\',
      '  -H "Authorization: READ_KEY" \\',
      '  -H "Content-Type: application/json" \\',
      '  -d ' + shellQuote(JSON.stringify(q.params)),
    ].join('\n');
  }

  function updateCurl() {
    try {
      $('curl-command').textContent = curlFor(buildQuery());
    } catch (e) {
      $('curl-command').textContent = '# ' + e.message;
    }
    $('copy-status').textContent = '';
  }

  $('query-form').addEventListener('input', updateCurl);
  $('query-form').addEventListener('change', updateCurl);

  $('copy-curl').addEventListener('click', async () => {
    const text = $('curl-command').textContent;
    try {
      await navigator.clipboard.writeText(text);
      $('copy-status').textContent = 'Copied';
    } catch (e) {
      const range = document.createRange();
      range.selectNodeContents($('curl-command'));
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      $('copy-status').textContent = 'Selected: press Ctrl+C to copy';
    }
  });

  // --- running and showing results ---

  $('query-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('query-error').textContent = '';
    let q;
    try {
      q = buildQuery();
    } catch (e) {
      $('query-error').textContent = e.message;
      return;
    }
    $('run-query').disabled = true;
    $('result-status').textContent = 'Running…';
    const began = performance.now();
    try {
      const data = await api('POST', '/queries/' + q.analysis, q.params);
      showResult(q, data.result, Math.round(performance.now() - began));
    } catch (e) {
      clearResult();
      $('result-status').textContent = 'The query failed.';
      $('query-error').textContent = 'The query failed: ' + e.message;
    } finally {
      $('run-query').disabled = false;
    }
  });

  const text = (v) => (typeof v === 'string' ? v : JSON.stringify(v === undefined ? null : v));
  const groupNames = (p) => (p.group_by === undefined || p.group_by === null ? [] : [].concat(p.group_by));
  const groupLabel = (g, names) => names.map((n) => text(g[n])).join(' / ');

  // bucketLabel writes an interval's start (UTC in the answer) in the
  // query's timezone: a date for days and longer, else a date and time.
  function bucketLabel(iso, tz, interval) {
    const t = Date.parse(iso);
    let zone = 'UTC';
    let shift = 0;
    if (typeof tz === 'number') shift = tz * 1000;
    else if (tz) zone = tz;
    let p;
    try {
      const parts = new Intl.DateTimeFormat('en-CA', {
        timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
      }).formatToParts(new Date(t + shift));
      p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
    } catch (e) {
      return iso;
    }
    const day = p.year + '-' + p.month + '-' + p.day;
    return /(daily|weekly|monthly|yearly|_days|_weeks|_months|_years)$/.test(interval || '') ? day : day + ' ' + p.hour + ':' + p.minute;
  }

  function flatten(obj, prefix, out) {
    for (const [k, v] of Object.entries(obj)) {
      const path = prefix ? prefix + '.' + k : k;
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length) flatten(v, path, out);
      else out[path] = v;
    }
    return out;
  }

  // shape turns an answer into what the page shows: a number, a chart (with
  // the same values as a table) or a table. Keen's answer shapes: a value;
  // [{group properties…, result}] with group_by; [{timeframe, value}] with
  // an interval, each value a group list when both are given; events for an
  // extraction; values for select_unique.
  function shape(q, result) {
    const p = q.params;
    const names = groupNames(p);
    const a = q.analysis;
    if (!analyses.has(a)) return { kind: 'json', value: result };
    if (a === 'extraction') {
      // Only the events the table shows are flattened (an extraction may
      // hold 100,000); their columns are the union of their properties.
      const rows = result.slice(0, maxTableRows).map((e) => flatten(e, '', {}));
      const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
      cols.sort((x, y) => (x.startsWith('keen.') === y.startsWith('keen.') ? x.localeCompare(y) : x.startsWith('keen.') ? -1 : 1));
      return {
        kind: 'table', caption: result.length + ' events', total: result.length, columns: cols,
        rows: rows.map((r) => cols.map((c) => (c in r ? text(r[c]) : ''))),
      };
    }
    const unique = a === 'select_unique';
    if (p.interval) {
      const labels = result.map((b) => bucketLabel(b.timeframe.start, p.timezone, p.interval));
      if (names.length === 0) {
        if (unique) return { kind: 'table', caption: result.length + ' intervals', columns: ['interval', 'values'], rows: result.map((b, i) => [labels[i], text(b.value)]) };
        return chartShape('line', labels, [{ label: a, data: result.map((b) => b.value) }], 'interval', result.length + ' intervals');
      }
      const keys = [];
      const seen = new Map();
      for (const b of result) {
        for (const g of b.value) {
          const k = groupLabel(g, names);
          if (!seen.has(k)) { seen.set(k, keys.length); keys.push(k); }
        }
      }
      if (unique) {
        return {
          kind: 'table', caption: result.length + ' intervals', columns: ['interval'].concat(names, ['values']),
          rows: result.flatMap((b, i) => b.value.map((g) => [labels[i]].concat(names.map((n) => text(g[n])), [text(g.result)]))),
        };
      }
      const series = keys.map((k) => ({ label: k, data: result.map(() => null) }));
      result.forEach((b, i) => {
        for (const g of b.value) series[seen.get(groupLabel(g, names))].data[i] = g.result;
      });
      return chartShape('line', labels, series, 'interval', result.length + ' intervals, ' + keys.length + ' groups');
    }
    if (names.length) {
      if (unique) return { kind: 'table', caption: result.length + ' groups', columns: names.concat(['values']), rows: result.map((g) => names.map((n) => text(g[n])).concat([text(g.result)])) };
      return chartShape('bar', result.map((g) => groupLabel(g, names)), [{ label: a, data: result.map((g) => g.result) }], names.join(' / '), result.length + ' groups');
    }
    if (unique) return { kind: 'table', caption: result.length + ' values', columns: ['value'], rows: result.map((v) => [text(v)]) };
    return { kind: 'number', value: result };
  }

  function chartShape(type, labels, series, labelColumn, caption) {
    return {
      kind: 'chart', type, labels, series, caption,
      columns: [labelColumn].concat(series.map((s) => s.label)),
      rows: labels.map((l, i) => [l].concat(series.map((s) => text(s.data[i])))),
    };
  }

  function clearResult() {
    if (chart) { chart.destroy(); chart = null; }
    $('result-number').hidden = true;
    $('chart-box').hidden = true;
    $('table-box').hidden = true;
    $('result-json').hidden = true;
  }

  function showResult(q, result, millis) {
    clearResult();
    const view = shape(q, result);
    const what = q.analysis + ' of ' + q.params.event_collection;
    const took = millis === undefined ? '' : ' (' + millis + ' ms)';
    if (view.kind === 'number') {
      $('result-number').textContent = view.value === null ? 'no value' : String(view.value);
      $('result-number').hidden = false;
      $('result-status').textContent = what + ': ' + (view.value === null ? 'no value (no events)' : view.value) + took;
      return;
    }
    if (view.kind === 'json') {
      $('result-json').textContent = JSON.stringify(result, null, 2);
      $('result-json').hidden = false;
      $('result-status').textContent = what + took;
      return;
    }
    if (view.kind === 'chart') drawChart(view, what);
    const head = document.createElement('tr');
    for (const c of view.columns) {
      const th = document.createElement('th');
      th.scope = 'col';
      th.textContent = c;
      head.appendChild(th);
    }
    $('result-head').replaceChildren(head);
    const rows = view.rows.slice(0, maxTableRows).map((r) => {
      const tr = document.createElement('tr');
      r.forEach((v, i) => {
        const cell = document.createElement(i === 0 && view.kind === 'chart' ? 'th' : 'td');
        if (cell.tagName === 'TH') cell.scope = 'row';
        cell.textContent = v;
        tr.appendChild(cell);
      });
      return tr;
    });
    $('result-body').replaceChildren(...rows);
    const cut = (view.total || view.rows.length) > maxTableRows ? ' (the first ' + maxTableRows + ' shown)' : '';
    $('result-caption').textContent = what + ': ' + view.caption + cut;
    $('table-box').hidden = false;
    $('result-status').textContent = what + ': ' + (view.kind === 'chart' ? (view.type === 'line' ? 'line chart, ' : 'bar chart, ') : '') + view.caption + took;
  }

  function drawChart(view, what) {
    $('chart-box').hidden = false;
    const canvas = $('chart');
    if (typeof window.Chart !== 'function') {
      $('query-error').textContent = 'The chart library did not load; the table below has the values.';
      $('chart-box').hidden = true;
      return;
    }
    canvas.setAttribute('aria-label', (view.type === 'line' ? 'Line chart' : 'Bar chart') + ' of ' + what + ', ' + view.caption + '; the table below lists the same values.');
    chart = new window.Chart(canvas, {
      type: view.type,
      data: {
        labels: view.labels,
        datasets: view.series.map((s, i) => ({
          label: s.label,
          data: s.data,
          borderColor: palette[i % palette.length],
          backgroundColor: palette[i % palette.length],
          borderWidth: 2,
          pointRadius: 3,
          tension: 0,
        })),
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: { y: { beginAtZero: true } },
        plugins: { legend: { display: view.series.length > 1 } },
      },
    });
  }

  // --- saved queries (Keen's /queries/saved) ---

  // chartType is the visualization saved with a query, as shape draws it.
  function chartType(q) {
    if (q.analysis === 'extraction' || q.analysis === 'select_unique') return 'table';
    if (q.params.interval) return 'line';
    return groupNames(q.params).length ? 'bar' : 'metric';
  }

  async function loadSaved() {
    let list;
    try {
      list = await api('GET', '/queries/saved');
      if (!Array.isArray(list)) throw new Error('the answer is not a list');
    } catch (e) {
      // A server without Keen's saved queries answers 400 or 404 here.
      $('saved-note').textContent = 'Saved queries are not available: listing them failed (' + e.message + ').';
      $('saved-table').hidden = true;
      return;
    }
    $('saved-note').textContent = list.length ? '' : 'No saved queries yet.';
    list.sort((x, y) => String(x.query_name).localeCompare(String(y.query_name)));
    $('saved-body').replaceChildren(...list.map(savedRow));
    $('saved-table').hidden = list.length === 0;
  }

  function savedRow(s) {
    const q = s.query || {};
    const tr = document.createElement('tr');
    const th = document.createElement('th');
    th.scope = 'row';
    th.textContent = s.query_name;
    const analysis = document.createElement('td');
    analysis.textContent = q.analysis_type || '';
    const coll = document.createElement('td');
    coll.textContent = q.event_collection || '';
    const actions = document.createElement('td');
    actions.className = 'row-actions';
    const open = document.createElement('button');
    open.type = 'button';
    open.textContent = 'Open';
    open.setAttribute('aria-label', 'Open saved query ' + s.query_name);
    open.addEventListener('click', () => {
      applyQuery(q.analysis_type, withoutAnalysisType(q));
      $('saved-name').value = s.query_name;
      $('query-title').focus();
    });
    const run = document.createElement('button');
    run.type = 'button';
    run.textContent = 'Run';
    run.setAttribute('aria-label', 'Run saved query ' + s.query_name);
    run.addEventListener('click', () => runSaved(s));
    actions.append(open, run);
    tr.append(th, analysis, coll, actions);
    return tr;
  }

  function withoutAnalysisType(q) {
    const p = Object.assign({}, q);
    delete p.analysis_type;
    return p;
  }

  // runSaved shows the saved query's result as the server computes it
  // (GET …/saved/{name}/result) and puts its parameters in the form.
  async function runSaved(s) {
    $('query-error').textContent = '';
    $('result-status').textContent = 'Running ' + s.query_name + '…';
    const began = performance.now();
    try {
      const data = await api('GET', '/queries/saved/' + encodeURIComponent(s.query_name) + '/result');
      const def = data.query || s.query;
      applyQuery(def.analysis_type, withoutAnalysisType(def));
      $('saved-name').value = s.query_name;
      showResult({ analysis: def.analysis_type, params: withoutAnalysisType(def) }, data.result, Math.round(performance.now() - began));
    } catch (e) {
      clearResult();
      $('result-status').textContent = 'The saved query failed.';
      $('query-error').textContent = 'Saved query ' + s.query_name + ' failed: ' + e.message;
    }
  }

  $('save-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    $('save-error').textContent = '';
    $('save-status').textContent = '';
    const name = $('saved-name').value.trim();
    if (!/^[A-Za-z0-9_-]+$/.test(name)) {
      $('save-error').textContent = 'A saved query\'s name is letters, digits, - and _.';
      return;
    }
    let q;
    try {
      q = buildQuery();
    } catch (e) {
      $('save-error').textContent = e.message;
      return;
    }
    $('save-query').disabled = true;
    try {
      await api('PUT', '/queries/saved/' + encodeURIComponent(name), {
        query: Object.assign({ analysis_type: q.analysis }, q.params),
        refresh_rate: 0,
        metadata: { display_name: name, visualization: { chart_type: chartType(q) } },
      });
      $('save-status').textContent = 'Saved ' + name;
      await loadSaved();
    } catch (e) {
      $('save-error').textContent = 'Could not save ' + name + ': ' + e.message;
    } finally {
      $('save-query').disabled = false;
    }
  });

  // --- start (a key kept in this tab signs in at once: session.js) ---

  showTimeframeFields();
  labelFilters();
})();
