// The metric catalogue as the console shows it: order, decimals, units, chart ranges, and the
// threshold bands drawn on charts (from the resident's thresholds when the API has them, else the
// defaults of shared/CLINICAL.md that the server's rules use).

import { t } from './i18n.js';

export const METRICS = {
  heart_rate: { dec: 0, unit: 'unit.bpm', min: 40, max: 120 },
  spo2: { dec: 0, unit: '%', min: 85, max: 100 },
  bp_systolic: { dec: 0, unit: 'mmHg', min: 90, max: 160 },
  bp_diastolic: { dec: 0, unit: 'mmHg', min: 50, max: 100 },
  bp_mean: { dec: 0, unit: 'mmHg', min: 60, max: 120 },
  body_temperature: { dec: 1, unit: '°C', min: 35.5, max: 38.5 },
  body_weight: { dec: 1, unit: 'kg', min: null, max: null },
  glucose: { dec: 1, unit: 'mmol/L', min: 3, max: 10 },
  steps: { dec: 0, unit: 'unit.steps', min: 0, max: null },
  rr_interval: { dec: 0, unit: 'ms', min: null, max: null },
  battery: { dec: 0, unit: '%', min: 0, max: 100 },
  fall: { dec: 0, unit: '', event: true },
  help_button: { dec: 0, unit: '', event: true },
};

/** What a wall card shows, in order; `bp` is systolic/diastolic together. */
export const WALL_METRICS = ['heart_rate', 'spo2', 'bp', 'body_temperature', 'glucose'];
/** Charts on the resident page, in order (only those with data are drawn). */
export const CHART_METRICS = ['spo2', 'heart_rate', 'bp_systolic', 'bp_diastolic', 'body_temperature', 'glucose', 'body_weight', 'steps'];

export function metricName(code) {
  return t(`metric.${code}`, null, code);
}

export function unitOf(code) {
  const u = (METRICS[code] || {}).unit || '';
  return u.startsWith('unit.') ? t(u) : u;
}

export function fmtValue(code, v) {
  const dec = (METRICS[code] || { dec: 1 }).dec;
  if (v === null || v === undefined || !Number.isFinite(v)) return '–';
  return v.toFixed(dec);
}

/** The defaults of the server's rules (server/src/rules/thresholds.rs). */
export const DEFAULT_THRESHOLDS = {
  spo2_scale: 1,
  spo2_critical_below: 88,
  spo2_scale2_critical_below: 84,
  pulse_critical_low: 40,
  pulse_critical_high: 131,
  systolic_critical_low: 90,
  bp_crisis_systolic: 180,
  bp_crisis_diastolic: 120,
  fever_single_c: 37.8,
  fever_repeated_c: 37.2,
  low_battery_pct: 15,
};

/** Shaded regions of a metric's chart: [{ lo, hi, level, label }], lo/hi may be ±Infinity. */
export function bandsFor(code, th) {
  const x = { ...DEFAULT_THRESHOLDS, ...(th || {}) };
  const num = (k) => (Number.isFinite(Number(x[k])) ? Number(x[k]) : null);
  const out = [];
  const add = (lo, hi, level, label) => {
    if (lo !== null && hi !== null) out.push({ lo, hi, level, label });
  };
  switch (code) {
    case 'spo2': {
      const below = Number(x.spo2_scale) === 2 ? num('spo2_scale2_critical_below') : num('spo2_critical_below');
      add(-Infinity, below, 'critical', `< ${below}`);
      break;
    }
    case 'heart_rate':
      add(-Infinity, num('pulse_critical_low'), 'critical', `≤ ${x.pulse_critical_low}`);
      add(num('pulse_critical_high'), Infinity, 'critical', `≥ ${x.pulse_critical_high}`);
      break;
    case 'bp_systolic':
      add(-Infinity, num('systolic_critical_low'), 'critical', `≤ ${x.systolic_critical_low}`);
      add(num('bp_crisis_systolic'), Infinity, 'critical', `> ${x.bp_crisis_systolic}`);
      break;
    case 'bp_diastolic':
      add(num('bp_crisis_diastolic'), Infinity, 'critical', `> ${x.bp_crisis_diastolic}`);
      break;
    case 'body_temperature':
      add(num('fever_repeated_c'), num('fever_single_c'), 'warning', `> ${x.fever_repeated_c}`);
      add(num('fever_single_c'), Infinity, 'urgent', `> ${x.fever_single_c}`);
      break;
    default:
      break;
  }
  return out;
}

/** The metric an alert's condition is about, for marking it on that chart; null if none. */
export function metricOfCondition(condition) {
  const c = String(condition || '');
  if (c.startsWith('baseline:')) return c.slice(9);
  if (c.startsWith('spo2')) return 'spo2';
  if (c.startsWith('pulse') || c.startsWith('resting_hr')) return 'heart_rate';
  if (c.startsWith('systolic') || c.startsWith('bp_')) return 'bp_systolic';
  if (c.startsWith('fever')) return 'body_temperature';
  if (c.startsWith('weight')) return 'body_weight';
  if (c.startsWith('activity')) return 'steps';
  if (c.startsWith('glucose')) return 'glucose';
  return null;
}

/** Editable threshold fields, grouped, with their unit. */
export const THRESHOLD_FIELDS = [
  ['spo2_critical_below', '%'],
  ['spo2_scale', ''],
  ['pulse_critical_low', 'unit.bpm'],
  ['pulse_critical_high', 'unit.bpm'],
  ['systolic_critical_low', 'mmHg'],
  ['bp_crisis_systolic', 'mmHg'],
  ['bp_crisis_diastolic', 'mmHg'],
  ['fever_single_c', '°C'],
  ['fever_repeated_c', '°C'],
  ['weight_gain_kg', 'kg'],
  ['fall_cancel_s', 's'],
  ['low_battery_pct', '%'],
  ['gateway_offline_min', 'min'],
];
