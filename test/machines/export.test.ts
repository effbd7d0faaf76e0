/**
 * The labels and layout of the exported diagram, on a machine using every kind of transition:
 * what a reader of the README sees for each kind.
 */
import { describe, expect, it } from 'vitest';
import { createMachine } from 'xstate';
import { toJson, toMermaid } from '../../machines/export.js';
import { everyTransitionKindMachine } from './diagram-fixture.js';

const mermaid = toMermaid(everyTransitionKindMachine);
const edgeLines = mermaid.split('\n').filter((line) => / --> \w+: /.test(line)).map((line) => line.trim());

describe('toMermaid', () => {
  it('labels each kind of transition by what triggers it', () => {
    expect(edgeLines).toEqual(
      expect.arrayContaining([
        'fixture_idle --> fixture_loading: go [ready]',
        'fixture_idle --> fixture_waiting: go [else]',
        'fixture_waiting --> fixture_timedOut: after 5000ms',
        'fixture_retrying --> fixture_loading: after backoff',
        'fixture_loading --> fixture_working: done: fetcher',
        'fixture_loading --> fixture_retrying: error: fetcher',
        'fixture_working --> fixture_finished: onDone',
        'fixture_working_upload_sending --> fixture_working_upload_sent: always [allowed]',
        'fixture_working_download --> fixture_working_download_receiving: reset',
        'fixture_finished --> fixture_idle: go [ready && !allowed]',
      ]),
    );
  });

  it("draws the machine's own transitions from every state they apply to", () => {
    const stopSources = edgeLines.filter((line) => line.endsWith('--> fixture_stopped: stop')).map((line) => line.split(' ')[0]);
    expect(stopSources).toEqual([
      'fixture_idle',
      'fixture_waiting',
      'fixture_timedOut',
      'fixture_loading',
      'fixture_retrying',
      // Not from `working` as a whole, nor from `download.receiving`: its own `stop` wins there.
      'fixture_working_upload',
      'fixture_working_download_received',
      'fixture_finished',
    ]);
  });

  it('nests compound and parallel states, separating parallel regions', () => {
    expect(mermaid).toContain(
      [
        '  state "working" as fixture_working {',
        '    state "upload" as fixture_working_upload {',
        '      [*] --> fixture_working_upload_sending',
        '      state "sending" as fixture_working_upload_sending',
        '      state "sent" as fixture_working_upload_sent',
        '      fixture_working_upload_sent --> [*]',
        '    }',
        '    --',
        '    state "download" as fixture_working_download {',
      ].join('\n'),
    );
    expect(mermaid).toContain('  state "stopped" as fixture_stopped\n  fixture_stopped --> [*]\n');
  });

  it('leaves targetless transitions out of the diagram', () => {
    expect(mermaid).not.toContain('tick');
  });

  it('draws a machine with nothing but an initial state', () => {
    expect(toMermaid(createMachine({ id: 'tiny', initial: 'only', states: { only: {} } }))).toBe(
      'stateDiagram-v2\n  [*] --> tiny_only\n  state "only" as tiny_only\n',
    );
  });
});

describe('toJson', () => {
  const { graph, config } = toJson(everyTransitionKindMachine);

  it('keeps targetless transitions, with no targets', () => {
    expect(graph.edges).toContainEqual(
      expect.objectContaining({ source: 'fixture.idle', targets: [], kind: 'event', event: 'tick', label: 'tick' }),
    );
  });

  it('says where an inherited transition is defined', () => {
    expect(graph.edges).toContainEqual(
      expect.objectContaining({ source: 'fixture.working.upload', targets: ['fixture.stopped'], definedOn: 'fixture', label: 'stop' }),
    );
  });

  it('carries the kind of each edge and the machine config for Stately', () => {
    const kinds = new Set(graph.edges.map((edge) => edge.kind));
    expect([...kinds].sort()).toEqual(['actorDone', 'actorError', 'after', 'always', 'event', 'stateDone']);
    expect(config).toMatchObject({ id: 'fixture', initial: 'idle' });
    expect(JSON.parse(JSON.stringify(graph))).toMatchObject({ id: 'fixture', initial: 'fixture.idle' });
  });
});
