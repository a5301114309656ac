// The Streams page: sign in with the project id and master key, switch
// Kafka Outbound, see the connection settings, client snippets and each
// collection's topics and rates. Plain JavaScript, no dependencies; every
// value from the server is written with textContent (collection names may
// hold any printable character).
'use strict';

(function () {
  const $ = (id) => document.getElementById(id);
  const meta = (name) => (document.querySelector('meta[name="' + name + '"]') || {}).content || '';
  const caFile = meta('sluice-ca-file') || '/path/to/ca.pem';
  const pollMillis = 2000;
  let pollTimer = null;
  let signedIn = false;

  // Sign-in and the API calls: session.js. The stream settings are what
  // only the master key reads.
  const { api, signOut } = window.sluiceSession({
    page: 'streams',
    check: (call) => call('GET', '/streams/kafka'),
    onSignIn: (streams) => {
      signedIn = true;
      showDashboard(streams);
    },
    onSignOut: () => {
      signedIn = false;
      clearInterval(pollTimer);
      $('dashboard').hidden = true;
    },
  });

  // --- dashboard ---

  function showDashboard(streams) {
    $('sign-in').hidden = true;
    $('dashboard').hidden = false;
    $('sign-out').hidden = false;
    renderSettings(streams);
    renderSnippets(streams);
    refreshCollections();
    clearInterval(pollTimer);
    pollTimer = setInterval(refreshCollections, pollMillis);
    // Move focus to the first dashboard heading, where a screen reader goes on.
    $('outbound-title').setAttribute('tabindex', '-1');
    $('outbound-title').focus();
  }

  function renderSettings(s) {
    for (const side of ['inbound', 'outbound']) {
      $(side + '-bootstrap').textContent = s[side].bootstrap_servers;
      $(side + '-protocol').textContent = s[side].security_protocol;
      $(side + '-mechanism').textContent = s[side].sasl_mechanism;
      $(side + '-username').textContent = s[side].username;
    }
    $('ca-file').textContent = caFile;
    setOutbound(s.outbound.enabled);
  }

  function setOutbound(enabled) {
    $('outbound-switch').checked = enabled;
    $('outbound-state').textContent = enabled ? 'Enabled' : 'Disabled';
  }

  $('outbound-switch').addEventListener('change', async (ev) => {
    const want = ev.target.checked;
    ev.target.disabled = true;
    $('outbound-error').textContent = '';
    try {
      const s = await api('PUT', '/streams/kafka/outbound', { enabled: want });
      setOutbound(s.outbound.enabled);
    } catch (e) {
      setOutbound(!want);
      $('outbound-error').textContent = 'Could not change Kafka Outbound: ' + e.message;
    } finally {
      ev.target.disabled = false;
    }
  });

  function rate(flow) {
    return flow.per_second === null ? '…' : flow.per_second.toFixed(1);
  }

  function cell(tr, text, className) {
    const td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    tr.appendChild(td);
    return td;
  }

  function topicCell(tr, topic, sanitized) {
    const td = cell(tr, '');
    const code = document.createElement('code');
    code.textContent = topic;
    td.appendChild(code);
    if (sanitized) {
      const note = document.createElement('span');
      note.className = 'note';
      note.textContent = ' (sanitized)';
      td.appendChild(note);
    }
  }

  async function refreshCollections() {
    if (!signedIn) return;
    let doc;
    try {
      doc = await api('GET', '/streams/collections');
    } catch (e) {
      if (e.status === 401 || e.status === 404) { signOut(); $('sign-in-error').textContent = e.message; return; }
      $('collections-error').textContent = 'Could not read collections: ' + e.message;
      return;
    }
    $('collections-error').textContent = '';
    if (doc.outbound_enabled !== $('outbound-switch').checked && !$('outbound-switch').disabled) {
      setOutbound(doc.outbound_enabled); // switched elsewhere
    }
    const body = $('collections-body');
    const rows = [];
    for (const c of doc.collections) {
      const tr = document.createElement('tr');
      tr.dataset.collection = c.name;
      const th = document.createElement('th');
      th.scope = 'row';
      th.textContent = c.name;
      tr.appendChild(th);
      const sanitized = c.outbound_topic !== c.name;
      topicCell(tr, c.outbound_topic, sanitized);
      topicCell(tr, c.dlq_topic, false);
      cell(tr, rate(c.in), 'num');
      cell(tr, rate(c.out), 'num');
      cell(tr, rate(c.dlq), 'num');
      cell(tr, String(c.in.total), 'num');
      rows.push(tr);
    }
    body.replaceChildren(...rows);
    $('collections').hidden = rows.length === 0;
    $('collections-empty').hidden = rows.length !== 0;
  }

  // --- snippets ---

  function snippetsFor(s) {
    const pid = s.inbound.username;
    const inb = s.inbound.bootstrap_servers;
    const out = s.outbound.bootstrap_servers;
    const jaas = (pw) => "'org.apache.kafka.common.security.plain.PlainLoginModule required username=\"" + pid + '" password="' + pw + "\";'";
    return [
      {
        title: 'Java console tools (Apache Kafka)',
        producer: [
          'kafka-console-producer.sh \\',
          '    --bootstrap-server ' + inb + ' \\',
          '    --topic "Target-collection-name" \\',
          '    --producer-property security.protocol=SASL_SSL \\',
          '    --producer-property sasl.mechanism=PLAIN \\',
          '    --producer-property ssl.truststore.type=PEM \\',
          '    --producer-property ssl.truststore.location=' + caFile + ' \\',
          '    --producer-property sasl.jaas.config=' + jaas('WRITE_KEY'),
        ].join('\n'),
        consumer: [
          'kafka-console-consumer.sh \\',
          '    --bootstrap-server ' + out + ' \\',
          '    --topic "Target-collection-name" \\',
          '    --consumer-property security.protocol=SASL_SSL \\',
          '    --consumer-property sasl.mechanism=PLAIN \\',
          '    --consumer-property ssl.truststore.type=PEM \\',
          '    --consumer-property ssl.truststore.location=' + caFile + ' \\',
          '    --consumer-property sasl.jaas.config=' + jaas('READ_KEY') + ' \\',
          '    --from-beginning',
        ].join('\n'),
      },
      {
        title: 'kcat',
        producer: [
          'echo \'{"item":"golden widget","price":25.5}\' | kcat -P -b ' + inb + ' -t purchases \\',
          '  -X security.protocol=SASL_SSL -X sasl.mechanisms=PLAIN -X ssl.ca.location=' + caFile + ' \\',
          '  -X sasl.username=' + pid + ' -X sasl.password=WRITE_KEY',
        ].join('\n'),
        consumer: [
          'kcat -C -b ' + out + ' -t purchases -o beginning \\',
          '  -X security.protocol=SASL_SSL -X sasl.mechanisms=PLAIN -X ssl.ca.location=' + caFile + ' \\',
          '  -X sasl.username=' + pid + ' -X sasl.password=READ_KEY',
        ].join('\n'),
      },
      {
        title: 'Python (confluent-kafka)',
        producer: [
          'from confluent_kafka import Producer',
          'p = Producer({"bootstrap.servers": "' + inb + '", "security.protocol": "SASL_SSL",',
          '              "sasl.mechanisms": "PLAIN", "sasl.username": "' + pid + '", "sasl.password": "WRITE_KEY",',
          '              "ssl.ca.location": "' + caFile + '", "acks": "all"})',
          'p.produce("purchases", value=b\'{"item":"golden widget","price":25.5}\')',
          'p.flush()',
        ].join('\n'),
        consumer: [
          'from confluent_kafka import Consumer',
          'c = Consumer({"bootstrap.servers": "' + out + '", "security.protocol": "SASL_SSL",',
          '              "sasl.mechanisms": "PLAIN", "sasl.username": "' + pid + '", "sasl.password": "READ_KEY",',
          '              "ssl.ca.location": "' + caFile + '", "group.id": "my-app", "auto.offset.reset": "earliest"})',
          'c.subscribe(["purchases"])',
          'while True:',
          '    msg = c.poll(1.0)',
          '    if msg is not None and msg.error() is None:',
          '        print(msg.value().decode())',
        ].join('\n'),
      },
      {
        title: 'Node.js (kafkajs)',
        producer: [
          "const fs = require('fs');",
          "const { Kafka } = require('kafkajs');",
          "const kafka = new Kafka({ brokers: ['" + inb.split(',').join("', '") + "'],",
          "  ssl: { ca: [fs.readFileSync('" + caFile + "', 'utf8')] },",
          "  sasl: { mechanism: 'plain', username: '" + pid + "', password: 'WRITE_KEY' } });",
          'const producer = kafka.producer();',
          'await producer.connect();',
          "await producer.send({ topic: 'purchases', acks: -1, messages: [{ value: '{\"item\":\"golden widget\"}' }] });",
        ].join('\n'),
        consumer: [
          "const fs = require('fs');",
          "const { Kafka } = require('kafkajs');",
          "const kafka = new Kafka({ brokers: ['" + out.split(',').join("', '") + "'],",
          "  ssl: { ca: [fs.readFileSync('" + caFile + "', 'utf8')] },",
          "  sasl: { mechanism: 'plain', username: '" + pid + "', password: 'READ_KEY' } });",
          "const consumer = kafka.consumer({ groupId: 'my-app' });",
          'await consumer.connect();',
          "await consumer.subscribe({ topic: 'purchases', fromBeginning: true });",
          'await consumer.run({ eachMessage: async ({ message }) => console.log(message.value.toString()) });',
        ].join('\n'),
      },
      {
        title: 'Go (franz-go)',
        producer: [
          'pem, _ := os.ReadFile("' + caFile + '")',
          'pool := x509.NewCertPool()',
          'pool.AppendCertsFromPEM(pem)',
          'cl, _ := kgo.NewClient(kgo.SeedBrokers("' + inb.split(',').join('", "') + '"),',
          '\tkgo.DialTLSConfig(&tls.Config{RootCAs: pool}),',
          '\tkgo.SASL(plain.Auth{User: "' + pid + '", Pass: "WRITE_KEY"}.AsMechanism()))',
          'defer cl.Close()',
          'err := cl.ProduceSync(ctx, &kgo.Record{Topic: "purchases", Value: []byte(`{"item":"golden widget"}`)}).FirstErr()',
        ].join('\n'),
        consumer: [
          'pem, _ := os.ReadFile("' + caFile + '")',
          'pool := x509.NewCertPool()',
          'pool.AppendCertsFromPEM(pem)',
          'cl, _ := kgo.NewClient(kgo.SeedBrokers("' + out.split(',').join('", "') + '"),',
          '\tkgo.DialTLSConfig(&tls.Config{RootCAs: pool}),',
          '\tkgo.SASL(plain.Auth{User: "' + pid + '", Pass: "READ_KEY"}.AsMechanism()),',
          '\tkgo.ConsumerGroup("my-app"), kgo.ConsumeTopics("purchases"))',
          'defer cl.Close()',
          'for {',
          '\tcl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { fmt.Println(string(r.Value)) })',
          '}',
        ].join('\n'),
      },
    ];
  }

  function snippetBlock(parent, id, heading, text) {
    const wrap = document.createElement('div');
    wrap.className = 'snippet';
    const h = document.createElement('h4');
    h.id = id + '-title';
    h.textContent = heading;
    const pre = document.createElement('pre');
    const code = document.createElement('code');
    code.id = id;
    code.textContent = text;
    pre.appendChild(code);
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.textContent = 'Copy';
    btn.setAttribute('aria-label', 'Copy: ' + heading);
    const status = document.createElement('span');
    status.className = 'copy-status';
    status.setAttribute('role', 'status');
    btn.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(text);
        status.textContent = 'Copied';
      } catch (e) {
        const range = document.createRange();
        range.selectNodeContents(code);
        const sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        status.textContent = 'Selected: press Ctrl+C to copy';
      }
    });
    wrap.append(h, pre, btn, status);
    parent.appendChild(wrap);
  }

  function renderSnippets(s) {
    const root = $('snippets');
    root.replaceChildren();
    snippetsFor(s).forEach((sn, i) => {
      const section = document.createElement('section');
      section.className = 'client';
      section.setAttribute('aria-labelledby', 'client-' + i);
      const h = document.createElement('h3');
      h.id = 'client-' + i;
      h.textContent = sn.title;
      section.appendChild(h);
      snippetBlock(section, 'snippet-' + i + '-producer', sn.title + ': produce to Kafka Inbound', sn.producer);
      snippetBlock(section, 'snippet-' + i + '-consumer', sn.title + ': consume from Kafka Outbound', sn.consumer);
      root.appendChild(section);
    });
  }
})();
