/** The classifier's parser and the profiles' documentation (no root needed). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  PROFILES,
  PROFILE_NAMES,
  compareVerdict,
  describeExpected,
  parseStunOutput,
  runIdPid,
  StunParseError,
} from '../../netsim/kernel/index.js';
import { ifName, newRunId, nsName, parseNsName, MAX_IFNAME } from '../../netsim/kernel/names.js';

const sample = (primary: string, rv: string): string => `STUN client version 0.97\nPrimary: ${primary}\t\nReturn value is 0x${rv}\n`;

test('parses every verdict line the stun client prints', () => {
  const pr = parseStunOutput(sample('Independent Mapping, Port Dependent Filter, preserves ports, no hairpin', '000017'));
  assert.deepEqual(
    { nat: pr.nat, mapping: pr.mapping, filtering: pr.filtering, ports: pr.ports, hairpin: pr.hairpin, rv: pr.returnValue },
    { nat: 'nat', mapping: 'independent', filtering: 'port', ports: 'preserved', hairpin: false, rv: 0x17 },
  );
  const fc = parseStunOutput(sample('Independent Mapping, Independent Filter, random port, will hairpin', '000002'));
  assert.equal(fc.filtering, 'independent');
  assert.equal(fc.ports, 'random');
  assert.equal(fc.hairpin, true);
  assert.equal(parseStunOutput(sample('Independent Mapping, Address Dependent Filter, preserves ports, no hairpin', '000015')).filtering, 'address');
  const sym = parseStunOutput(sample('Dependent Mapping, random port, no hairpin', '000018'));
  assert.equal(sym.mapping, 'dependent');
  assert.equal(sym.filtering, undefined);
  assert.equal(parseStunOutput(sample('Blocked or could not reach STUN server', '00001c')).nat, 'blocked');
  assert.equal(parseStunOutput(sample('Open', '000000')).nat, 'open');
  assert.equal(parseStunOutput(sample('Firewall', '00000a')).nat, 'firewall');
  assert.throws(() => parseStunOutput('garbage'), StunParseError);
});

test('compareVerdict names each difference', () => {
  const v = parseStunOutput(sample('Independent Mapping, Port Dependent Filter, preserves ports, no hairpin', '000017'));
  assert.deepEqual(compareVerdict(PROFILES['port-restricted-cone'].expect, v), []);
  assert.deepEqual(compareVerdict(PROFILES['full-cone'].expect, v), ['filtering: expected independent, stun says port']);
  assert.deepEqual(compareVerdict(PROFILES.hairpin.expect, v), ['hairpin: expected true, stun says false']);
});

test('every profile is documented and its claim round-trips through the parser', () => {
  assert.equal(PROFILE_NAMES.length, 11);
  for (const name of PROFILE_NAMES) {
    const p = PROFILES[name];
    assert.equal(p.name, name);
    for (const field of [p.title, p.description, p.realDevices]) assert.ok(field.length > 10, `${name} is documented`);
    const line = describeExpected(p.expect);
    assert.deepEqual(compareVerdict(p.expect, parseStunOutput(sample(line, '0'))), [], `${name}: "${line}"`);
    const rules = p.ruleset({ table: 'burrow_x', wan: 'wan-x', lan: 'lan-x', publicIp: '203.0.113.2', inside: ['10.1.0.2'], insideCidr: '10.1.0.0/24' });
    assert.match(rules, /^table inet burrow_x \{/);
  }
});

test('names carry the run id, stay within 15 characters, and encode the owner pid', () => {
  const rid = newRunId(4194303); // the largest pid Linux allows
  assert.ok(rid.length <= 8);
  assert.equal(runIdPid(rid), 4194303);
  assert.ok(ifName('wan', rid).length <= MAX_IFNAME);
  assert.ok(ifName('c15', rid).length <= MAX_IFNAME);
  assert.ok(ifName('p9', rid).length <= MAX_IFNAME);
  assert.throws(() => ifName('toolongname', rid));
  const ns = nsName('bnk', rid, 'nat3h1');
  assert.deepEqual(parseNsName('bnk', ns), { runId: rid, role: 'nat3h1' });
  assert.equal(parseNsName('other', ns), undefined);
  assert.notEqual(newRunId(), newRunId());
});
