// Latency histogram for the soak: 0.1 ms buckets up to 60 s (anything
// longer lands in the last bucket), so millions of samples cost a fixed
// 2.4 MB and histograms from several threads merge by addition.

const RES = 10; // buckets per ms
const MAX_MS = 60000;

export class Histogram {
  constructor() {
    this.b = new Uint32Array(MAX_MS * RES + 1);
    this.n = 0;
    this.max = 0;
  }

  add(ms) {
    const i = Math.min(this.b.length - 1, Math.max(0, Math.round(ms * RES)));
    this.b[i]++;
    this.n++;
    if (ms > this.max) this.max = ms;
  }

  // Sparse form for postMessage/JSON: [[bucket, count], ...].
  toJSON() {
    const s = [];
    for (let i = 0; i < this.b.length; i++) if (this.b[i]) s.push([i, this.b[i]]);
    return { s, n: this.n, max: this.max };
  }

  merge(j) {
    for (const [i, c] of j.s) this.b[i] += c;
    this.n += j.n;
    if (j.max > this.max) this.max = j.max;
    return this;
  }

  // The p-quantile (0..1) in ms, or null without samples.
  q(p) {
    if (!this.n) return null;
    const want = Math.max(1, Math.ceil(p * this.n));
    let acc = 0;
    for (let i = 0; i < this.b.length; i++) {
      acc += this.b[i];
      if (acc >= want) return i / RES;
    }
    return this.max;
  }
}
