// Posts `COUNT` Order Completed events to `eventmap serve` through a real server SDK,
// as a customer's backend would, and exits 0 once the SDK reports them all sent.
//
//   node post-events.mjs segment|rudderstack HOST WRITE_KEY PREFIX COUNT
//
// Each event's messageId is PREFIX-i, so the test can find it at the mock API.
import { Analytics } from '@segment/analytics-node';
import RudderAnalytics from '@rudderstack/rudder-sdk-node';

const [sdk, host, writeKey, prefix, countText] = process.argv.slice(2);
const count = Number(countText);

const order = (i) => ({
  userId: `user-${i % 7}`,
  event: 'Order Completed',
  messageId: `${prefix}-${i}`,
  timestamp: new Date(Date.now() - 60_000),
  properties: {
    order_id: `order-${prefix}-${i}`,
    currency: 'EUR',
    products: [{ product_id: 'kettle-01', price: 19.99, quantity: 2 }],
  },
  context: {
    page: { url: 'https://shop.example/checkout' },
    ip: '203.0.113.9',
    userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
  },
});

async function viaSegment() {
  const analytics = new Analytics({ writeKey, host, path: '/v1/batch', flushAt: 25, flushInterval: 200, maxRetries: 3 });
  let failed = null;
  analytics.on('error', (err) => { failed = err; });
  for (let i = 0; i < count; i++) analytics.track(order(i));
  await analytics.closeAndFlush({ timeout: 30_000 });
  if (failed) throw failed;
}

async function viaRudderStack() {
  // gzip is on by default in this SDK: the intake must take it.
  const client = new RudderAnalytics(writeKey, { dataPlaneUrl: host, flushAt: 25, flushInterval: 200, logLevel: 'error' });
  const sent = [];
  for (let i = 0; i < count; i++) {
    sent.push(new Promise((resolve, reject) => client.track(order(i), (err) => (err ? reject(err) : resolve()))));
  }
  await client.flush();
  await Promise.all(sent);
}

try {
  await (sdk === 'segment' ? viaSegment() : viaRudderStack());
  console.log(JSON.stringify({ sdk, sent: count }));
  process.exit(0);
} catch (err) {
  console.error(`${sdk}: ${err && err.message ? err.message : err}`);
  process.exit(1);
}
