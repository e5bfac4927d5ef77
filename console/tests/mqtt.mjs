// A minimal MQTT 3.1.1 publisher (CONNECT, PUBLISH at QoS 0, DISCONNECT) for the load test: it
// plays many home gateways at once, publishing readings the way eldercare-gateway does.

import net from 'node:net';

function varint(n) {
  const out = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

function str(s) {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function packet(type, body) {
  return Buffer.concat([Buffer.from([type]), varint(body.length), body]);
}

export async function connect(url, clientId) {
  const u = new URL(url);
  const socket = net.connect({ host: u.hostname, port: Number(u.port || 1883) });
  socket.setNoDelay(true);
  await new Promise((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const connack = new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no CONNACK within 10 s')), 10_000);
    socket.once('data', (d) => {
      clearTimeout(t);
      if (d[0] === 0x20 && d[3] === 0) resolve();
      else reject(new Error(`connection refused: ${d.toString('hex')}`));
    });
  });
  const variable = Buffer.concat([str('MQTT'), Buffer.from([4, 0x02, 0, 120])]); // level 4, clean session, keep-alive 120 s
  socket.write(packet(0x10, Buffer.concat([variable, str(clientId)])));
  await connack;
  socket.on('data', () => {}); // whatever the broker sends (nothing: we subscribe to nothing)
  return {
    publish(topic, payload, { retain = false } = {}) {
      const body = Buffer.concat([str(topic), Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload))]);
      return socket.write(packet(0x30 | (retain ? 1 : 0), body));
    },
    async drain() {
      if (socket.writableNeedDrain) await new Promise((r) => socket.once('drain', r));
    },
    close() {
      socket.end(Buffer.from([0xe0, 0]));
    },
  };
}
