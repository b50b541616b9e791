// Events per second over the last 60 s, as SVG bars.
import { useEffect, useState, type JSX } from 'react';
import type { RateWindow } from './rate.ts';

const W = 600;
const H = 80;

export function RateChart({ rate }: { rate: RateWindow }): JSX.Element {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  // The current second is still filling: show the 60 complete ones.
  const series = rate.series(now - 1000);
  const peak = Math.max(...series);
  const top = Math.max(1, peak);
  const bw = W / series.length;
  return (
    <div className="card chart">
      <div className="card-head">
        <h2>Rate</h2>
        <span className="muted small" data-testid="rate-now">
          {series[series.length - 1]} ev/s now · peak {peak} ev/s · last 60 s
        </span>
      </div>
      <svg viewBox={`0 0 ${W} ${H}`} preserveAspectRatio="none" role="img" aria-label="events per second, last 60 seconds" data-testid="rate-chart">
        <line x1="0" y1={H - 0.5} x2={W} y2={H - 0.5} className="axis" />
        {series.map((v, i) => {
          const h = v === 0 ? 0 : Math.max(1, (v / top) * (H - 4));
          return <rect key={i} x={i * bw + 1} y={H - h} width={bw - 2} height={h} className="bar" />;
        })}
      </svg>
    </div>
  );
}
