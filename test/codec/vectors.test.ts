/**
 * Every hex vector of docs/amp-protocol.md §8 and docs/trial-protocol.md §8, both ways: encoding gives
 * exactly those bytes, and decoding those bytes gives the values back.
 */
import { describe, expect, it } from 'vitest';
import { normalise } from './equality.js';
import { decodeOne, text } from '../support/decode-one.js';
import {
  ASK,
  BoxDecoder,
  DateTimeValue,
  DecimalValue,
  KeyTooLongError,
  amp,
  encodeErrorReply,
  pythonBytesRepr,
  type Command,
} from '../../codec/index.js';
import * as trial from '../../codec/protocols/trial-commands.js';
import { Hello, Ping, Types } from '../fixtures/commands.js';

const hex = (text: string) => Buffer.from(text, 'hex');



interface RequestVector {
  id: string;
  command: Command<any, any>;
  tag: string | undefined;
  args: Record<string, unknown>;
  hex: string;
}

const requests: RequestVector[] = [
  { id: 'A1', command: Hello, tag: '1', args: { count: 13n, name: Buffer.from('bob') }, hex: '00045f61736b00013100085f636f6d6d616e64000548656c6c6f0005636f756e740002313300046e616d650003626f620000' },
  { id: 'A6', command: Ping, tag: undefined, args: { n: 1n }, hex: '00085f636f6d6d616e64000450696e6700016e0001310000' },
  { id: 'A7', command: Hello, tag: '2', args: { count: 1n, name: Buffer.from('a') }, hex: '00045f61736b00013200085f636f6d6d616e64000548656c6c6f0005636f756e7400013100046e616d650001610000' },
  { id: 'A8', command: Types, tag: '1', args: { b: true }, hex: '00045f61736b00013100085f636f6d6d616e64000554797065730001620004547275650000' },
  { id: 'A10', command: Types, tag: '1', args: { t: new DateTimeValue({ year: 2012, month: 1, day: 23, hour: 12, minute: 34, second: 56, microsecond: 54321 }) }, hex: '00045f61736b00013100085f636f6d6d616e64000554797065730001740020323031322d30312d32335431323a33343a35362e3035343332312d30303a30300000' },
  { id: 'A11', command: Types, tag: '1', args: { li: [3n, 7n, 9n, 15n] }, hex: '00045f61736b00013100085f636f6d6d616e640005547970657300026c69000d000133000137000139000231350000' },
  { id: 'A12', command: Types, tag: '1', args: { lu: ['a', '', 'é'] }, hex: '00045f61736b00013100085f636f6d6d616e640005547970657300026c75000900016100000002c3a90000' },
  { id: 'A13', command: Types, tag: '1', args: { al: [{ a: 7n, b: 'hello' }, { a: 9n }] }, hex: '00045f61736b00013100085f636f6d6d616e64000554797065730002616c001a000161000137000162000568656c6c6f000000016100013900000000' },
  { id: 'A14', command: Types, tag: '1', args: { al: [] }, hex: '00045f61736b00013100085f636f6d6d616e64000554797065730002616c00000000' },
  { id: 'A15', command: Types, tag: '1', args: { from: 5n, 'foo-bar': 6n }, hex: '00045f61736b00013100085f636f6d6d616e64000554797065730007666f6f2d626172000136000466726f6d0001350000' },
  { id: 'T1', command: trial.Start, tag: '1', args: { directory: '/tmp/x/_trial_temp/0' }, hex: '00045f61736b00013100085f636f6d6d616e640005537461727400096469726563746f727900142f746d702f782f5f747269616c5f74656d702f300000' },
  { id: 'T2', command: trial.Run, tag: '2', args: { testCase: 'pkg.test_mod.Tests.test_one' }, hex: '00045f61736b00013200085f636f6d6d616e64000352756e00087465737443617365001b706b672e746573745f6d6f642e54657374732e746573745f6f6e650000' },
  { id: 'T3', command: trial.TestWrite, tag: '1', args: { out: 'Log opened.' }, hex: '00045f61736b00013100085f636f6d6d616e64000954657374577269746500036f7574000b4c6f67206f70656e65642e0000' },
  { id: 'T4', command: trial.AddSuccess, tag: '2', args: { testName: 'pkg.test_mod.Tests.test_one' }, hex: '00045f61736b00013200085f636f6d6d616e64000a416464537563636573730008746573744e616d65001b706b672e746573745f6d6f642e54657374732e746573745f6f6e650000' },
  { id: 'T6', command: trial.inline.AddError, tag: '3', args: { error: 'bad é', errorClass: 'builtins.ValueError', frames: ['test_e', '/src/m.py', '10'], testName: 'm.T.test_e' }, hex: '00045f61736b00013300085f636f6d6d616e6400084164644572726f7200056572726f72000662616420c3a9000a6572726f72436c61737300136275696c74696e732e56616c75654572726f7200066672616d657300170006746573745f6500092f7372632f6d2e7079000231300008746573744e616d65000a6d2e542e746573745f650000' },
  { id: 'T7', command: trial.inline.AddFailure, tag: '4', args: { fail: 'boom', failClass: 'twisted.trial.unittest.FailTest', frames: [], testName: 'm.T.test_f' }, hex: '00045f61736b00013400085f636f6d6d616e64000a4164644661696c75726500046661696c0004626f6f6d00096661696c436c617373001f747769737465642e747269616c2e756e6974746573742e4661696c5465737400066672616d657300000008746573744e616d65000a6d2e542e746573745f660000' },
  { id: 'T8', command: trial.AddSkip, tag: '5', args: { reason: 'not today', testName: 'm.T.test_s' }, hex: '00045f61736b00013500085f636f6d6d616e640007416464536b69700006726561736f6e00096e6f7420746f6461790008746573744e616d65000a6d2e542e746573745f730000' },
  { id: 'T9', command: trial.inline.AddExpectedFailure, tag: '6', args: { error: 'expected', testName: 'm.T.test_x', todo: 'later' }, hex: '00045f61736b00013600085f636f6d6d616e64001241646445787065637465644661696c75726500056572726f72000865787065637465640008746573744e616d65000a6d2e542e746573745f780004746f646f00056c617465720000' },
  { id: 'T10', command: trial.AddUnexpectedSuccess, tag: '7', args: { testName: 'm.T.test_u', todo: 'should fail' }, hex: '00045f61736b00013700085f636f6d6d616e640014416464556e6578706563746564537563636573730008746573744e616d65000a6d2e542e746573745f750004746f646f000b73686f756c64206661696c0000' },
  { id: 'T11', command: trial.streamed.StreamOpen, tag: '1', args: {}, hex: '00045f61736b00013100085f636f6d6d616e64000a53747265616d4f70656e0000' },
  { id: 'T13', command: trial.streamed.StreamWrite, tag: '2', args: { streamId: 0, data: Buffer.from('bad é') }, hex: '00045f61736b00013200085f636f6d6d616e64000b53747265616d5772697465000464617461000662616420c3a9000873747265616d49640001300000' },
  { id: 'T15', command: trial.streamed.AddError, tag: '3', args: { errorClass: 'builtins.ValueError', errorStreamId: 0, framesStreamId: 1, testName: 'm.T.test_e' }, hex: '00045f61736b00013300085f636f6d6d616e6400084164644572726f72000a6572726f72436c61737300136275696c74696e732e56616c75654572726f72000d6572726f7253747265616d4964000130000e6672616d657353747265616d49640001310008746573744e616d65000a6d2e542e746573745f650000' },
  { id: 'T16', command: trial.streamed.AddFailure, tag: '4', args: { failClass: 'twisted.trial.unittest.FailTest', failStreamId: 2, framesStreamId: 3, testName: 'm.T.test_f' }, hex: '00045f61736b00013400085f636f6d6d616e64000a4164644661696c75726500096661696c436c617373001f747769737465642e747269616c2e756e6974746573742e4661696c54657374000c6661696c53747265616d4964000132000e6672616d657353747265616d49640001330008746573744e616d65000a6d2e542e746573745f660000' },
  { id: 'T17', command: trial.streamed.AddExpectedFailure, tag: '5', args: { errorStreamId: 4, testName: 'm.T.test_x', todo: 'later' }, hex: '00045f61736b00013500085f636f6d6d616e64001241646445787065637465644661696c757265000d6572726f7253747265616d49640001340008746573744e616d65000a6d2e542e746573745f780004746f646f00056c617465720000' },
];

describe('request vectors', () => {
  for (const vector of requests) {
    it(`${vector.id}: encodes to the Twisted bytes`, () => {
      expect(vector.command.encodeRequest(vector.tag, vector.args as never).toString('hex')).toBe(vector.hex);
    });
    it(`${vector.id}: decodes to the same values`, () => {
      const box = decodeOne(hex(vector.hex));
      expect(text(box, '_command')).toBe(vector.command.name);
      expect(text(box, ASK)).toBe(vector.tag);
      expect(normalise(vector.command.decodeArguments(box))).toEqual(normalise(vector.args));
    });
  }

  it('A9: Float NaN is written nan and read back as NaN', () => {
    const bytes = Types.encodeRequest('1', { fl: NaN });
    expect(bytes.toString('hex')).toBe('00045f61736b00013100085f636f6d6d616e64000554797065730002666c00036e616e0000');
    expect(Types.decodeArguments(decodeOne(bytes)).fl).toBeNaN();
  });
});

describe('answer and error vectors', () => {
  it('A2: answer with a Unicode greeting', () => {
    const bytes = Hello.encodeAnswer('1', { greeting: 'hi bob x13 é' });
    expect(bytes.toString('hex')).toBe('00075f616e7377657200013100086772656574696e67000d686920626f622078313320c3a90000');
    expect(Hello.decodeResponse(decodeOne(bytes))).toEqual({ greeting: 'hi bob x13 é' });
  });

  it('A3: declared error reply', () => {
    const bytes = encodeErrorReply('2', 'BAD_VALUE', 'negative count');
    expect(bytes.toString('hex')).toBe('00065f6572726f72000132000b5f6572726f725f636f646500094241445f56414c554500125f6572726f725f6465736372697074696f6e000e6e6567617469766520636f756e740000');
    const box = decodeOne(bytes);
    const error = Hello.errorFromReply(text(box, '_error_code')!, text(box, '_error_description')!);
    expect(error.constructor.name).toBe('BadValueError');
    expect(error.message).toBe('negative count');
  });

  it('A4: UNKNOWN reply', () => {
    const bytes = encodeErrorReply('3', 'UNKNOWN', 'Unknown Error');
    expect(bytes.toString('hex')).toBe('00065f6572726f72000133000b5f6572726f725f636f64650007554e4b4e4f574e00125f6572726f725f6465736372697074696f6e000d556e6b6e6f776e204572726f720000');
    expect(Hello.errorFromReply('UNKNOWN', 'Unknown Error').message).toBe('Code<UNKNOWN>: Unknown Error');
  });

  it('A5: UNHANDLED reply quoting the name as Python bytes', () => {
    const description = `Unhandled Command: ${pythonBytesRepr(Buffer.from('NoSuchCommand'))}`;
    const bytes = encodeErrorReply('1', 'UNHANDLED', description);
    expect(bytes.toString('hex')).toBe('00065f6572726f72000131000b5f6572726f725f636f64650009554e48414e444c454400125f6572726f725f6465736372697074696f6e0023556e68616e646c656420436f6d6d616e643a2062274e6f53756368436f6d6d616e64270000');
    expect(Hello.errorFromReply('UNHANDLED', description).constructor.name).toBe('UnhandledCommandError');
  });

  it('A16: a key prefix over 255 fails the stream with TooLong', () => {
    const errors: Error[] = [];
    const decoder = new BoxDecoder({ onBox: () => { throw new Error('no box expected'); }, onError: (error) => errors.push(error) });
    decoder.push(hex('0100'));
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(KeyTooLongError);
    expect(decoder.hasFailed).toBe(true);
  });

  it('T5: answer success=True', () => {
    const bytes = trial.Run.encodeAnswer('2', { success: true });
    expect(bytes.toString('hex')).toBe('00075f616e737765720001320007737563636573730004547275650000');
    expect(trial.Run.decodeResponse(decodeOne(bytes))).toEqual({ success: true });
  });

  it('T12: StreamOpen answer streamId=0', () => {
    const bytes = trial.streamed.StreamOpen.encodeAnswer('1', { streamId: 0 });
    expect(bytes.toString('hex')).toBe('00075f616e73776572000131000873747265616d49640001300000');
    expect(trial.streamed.StreamOpen.decodeResponse(decodeOne(bytes))).toEqual({ streamId: 0 });
  });

  it('T14: empty StreamWrite answer', () => {
    const bytes = trial.streamed.StreamWrite.encodeAnswer('2', {});
    expect(bytes.toString('hex')).toBe('00075f616e737765720001320000');
  });
});

describe('value-only vectors (§8.4)', () => {
  const floats: [number, string][] = [
    [0.1, '0.1'], [1.0, '1.0'], [-0.0, '-0.0'], [1e15, '1000000000000000.0'], [1e16, '1e+16'],
    [1e-5, '1e-05'], [0.0001, '0.0001'], [Infinity, 'inf'], [-Infinity, '-inf'], [1.5e-7, '1.5e-07'],
    [1e100, '1e+100'], [5e-324, '5e-324'], [1.7976931348623157e308, '1.7976931348623157e+308'], [100, '100.0'],
  ];
  for (const [value, wire] of floats) {
    it(`Float ${wire}`, () => {
      expect(amp.Float.encode(value)).toBe(wire);
      expect(Object.is(amp.Float.decode(Buffer.from(wire)), value)).toBe(true);
    });
  }

  const decimals = ['1.0', '1E+2', '1E-7', '123.4500', '-0', '1E+1000', '-Infinity', '-sNaN', 'NaN123', '0.000001', '1.5E+2'];
  for (const wire of decimals) {
    it(`Decimal ${wire}`, () => {
      const value = amp.Decimal.decode(Buffer.from(wire));
      expect(amp.Decimal.encode(value)).toBe(wire);
    });
  }
  it('Decimal 0.0000001 is written 1E-7', () => {
    expect(amp.Decimal.encode(DecimalValue.parse('0.0000001'))).toBe('1E-7');
  });

  it('Integer -42, Boolean False', () => {
    expect(amp.Integer.encode(-42)).toBe('-42');
    expect(amp.Integer.decode(Buffer.from('-42'))).toBe(-42n);
    expect(amp.Boolean.encode(false)).toBe('False');
    expect(amp.Boolean.decode(Buffer.from('False'))).toBe(false);
  });

  it('DateTime with negative and fractional-hour offsets', () => {
    const early = new DateTimeValue({ year: 1, month: 1, day: 1, offsetMinutes: -480 });
    expect(amp.DateTime.encode(early)).toBe('0001-01-01T00:00:00.000000-08:00');
    const leap = new DateTimeValue({ year: 2024, month: 2, day: 29, hour: 23, minute: 59, second: 59, microsecond: 999999, offsetMinutes: 330 });
    expect(amp.DateTime.encode(leap)).toBe('2024-02-29T23:59:59.999999+05:30');
    expect(amp.DateTime.decode(Buffer.from('2024-02-29T23:59:59.999999+05:30')).equals(leap)).toBe(true);
  });

  it('Unicode with an astral character', () => {
    expect(Buffer.from(amp.Unicode.encode('héllo ☃ 😀') as string, 'utf8').toString('hex')).toBe('68c3a96c6c6f20e2988320f09f9880');
    expect(amp.Unicode.decode(hex('68c3a96c6c6f20e2988320f09f9880'))).toBe('héllo ☃ 😀');
  });
});


describe('wire names', () => {
  it('are the schema keys; Twisted responders see them renamed', async () => {
    const { pythonIdentifier } = await import('../../codec/index.js');
    expect(pythonIdentifier('foo-bar')).toBe('foo_bar');
    expect(pythonIdentifier('from')).toBe('From');
    expect(pythonIdentifier('print')).toBe('Print');
    expect(pythonIdentifier('count')).toBe('count');
    expect(Types.decodeArguments(decodeOne(Types.encodeRequest('1', { 'foo-bar': 6n })))['foo-bar']).toBe(6n);
  });
});
