// The demo's server: reads the config init rendered (it holds the database password, which
// is in no environment), answers /health and /hello (with the bearer token init put in its
// environment from a secret file), and stops cleanly on SIGTERM.
const { readFileSync } = require('node:fs');
const http = require('node:http');

const config = Object.fromEntries(readFileSync(process.env.API_CONFIG, 'utf8').split('\n')
  .filter((l) => /^\w+: /.test(l)).map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 2)]));
console.log(`config rendered by init: ${process.env.API_CONFIG} (${readFileSync(process.env.API_CONFIG, 'utf8').includes('demo-db-password') ? 'has' : 'lacks'} the database password)`);
console.log(`database password in my environment: ${JSON.stringify(process.env).includes('demo-db-password') ? 'yes' : 'no'}`);
const [host, port] = config.listen.split(':');
const server = http.createServer((req, res) => {
  if (req.url === '/health') return res.end('ok\n');
  const authorized = req.headers.authorization === `Bearer ${process.env.API_TOKEN}`;
  console.log(`${req.method} ${req.url} ${authorized ? 200 : 401}`);
  res.statusCode = authorized ? 200 : 401;
  res.end(authorized ? `${JSON.parse(config.greeting)} from pid ${process.pid}\n` : 'who are you?\n');
});
// Slow on purpose, so that the readiness wait shows: init starts the client only after this.
setTimeout(() => server.listen(Number(port), host, () => console.log(`listening on ${host}:${port}`)), 700);
process.on('SIGTERM', () => {
  console.log('SIGTERM: closing the server');
  server.close(() => process.exit(0));
});
