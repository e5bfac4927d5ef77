// Test data at scale: residents added through the API, as an administrator would.

import assert from 'node:assert/strict';
import { apiLogin } from './support.mjs';

/**
 * Adds residents through the API: ten grids (as the administrator), then homes with a gateway
 * and residents each wearing a pulse oximeter (pulse and SpO2), shared between two staff
 * accounts because the API limits each account's request rate.
 */
export async function addResidents(demo, n) {
  const why = (res) => `${JSON.stringify(res.body)}\nserver log:\n${demo.logs().slice(-3000)}`;
  const admin = await apiLogin(demo.base, 'admin');
  const nurse = await apiLogin(demo.base, 'caregiver');
  const units = (await admin('/org-units')).body;
  const community = units.find((u) => u.kind === 'community');
  const grids = [];
  for (let g = 0; g < 10; g++) {
    const r = await admin('/org-units', { method: 'POST', body: JSON.stringify({ parent_id: community.org_unit_id, kind: 'grid', name: `Bench grid ${String(g + 1).padStart(2, '0')}` }) });
    assert.equal(r.status, 201, why(r));
    grids.push(r.body.org_unit_id);
  }
  const homes = [];
  const jobs = [];
  for (let i = 0; i < n; i += 2) jobs.push(i);
  const worker = async (call) => {
    while (jobs.length) {
      const i = jobs.shift();
      const h = await call('/households', { method: 'POST', body: JSON.stringify({ org_unit_id: grids[(i / 2) % grids.length], name: `Bench home ${i / 2 + 1}` }) });
      assert.equal(h.status, 201, why(h));
      const gw = `bench-gw-${i / 2 + 1}`;
      const g = await call('/gateways', { method: 'POST', body: JSON.stringify({ gateway_id: gw, household_id: h.body.household_id }) });
      assert.equal(g.status, 201, why(g));
      const home = { gateway: gw, residents: [] };
      for (let k = 0; k < 2 && i + k < n; k++) {
        const r = await call('/residents', { method: 'POST', body: JSON.stringify({ household_id: h.body.household_id, full_name: `Bench Resident ${String(i + k + 1).padStart(3, '0')}`, birth_year: 1930 + ((i + k) % 25) }) });
        assert.equal(r.status, 201, why(r));
        const dev = `ox-b${i + k + 1}`;
        const d = await call('/devices', { method: 'POST', body: JSON.stringify({ device_id: dev, kind: 'pulse_oximeter', gateway_id: gw, resident_id: r.body.resident_id }) });
        assert.equal(d.status, 201, why(d));
        home.residents.push({ rid: r.body.resident_id, dev });
      }
      homes.push(home);
    }
  };
  await Promise.all([admin, nurse, admin, nurse].map(worker));
  return homes;
}

