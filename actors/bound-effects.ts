import { AmpStateError } from '../codec/errors.js';

/** A machine's action ran in an actor that never bound its effects: a bug in ampstate, not in the peer. */
export class UnboundEffectsError extends AmpStateError {
  override readonly code = 'AMP_ERR_UNBOUND_EFFECTS';
  constructor(readonly machineName: string) {
    super(`a ${machineName} actor ran an action before its effects were bound`);
  }
}

/**
 * Side effects bound to the actor that runs them.
 *
 * `machine.provide()` builds a whole new machine: about half a millisecond of CPU each, ten times
 * the cost of creating and starting the actor (bench/scale.ts at 10,000 workers showed it as the
 * master's top cost). A machine that every connection, worker or command runs is therefore provided
 * once per definition, with actions that look up the effects of the actor calling them; each actor
 * binds its own effects before it starts.
 */
export class BoundEffects<TEffects extends object> {
  private readonly byActor = new WeakMap<object, TEffects>();
  private readonly provided = new WeakMap<object, object>();

  constructor(private readonly machineName: string) {}

  /** The effects of the actor an action runs in (`self` in xstate's action arguments). */
  of(self: object): TEffects {
    const effects = this.byActor.get(self);
    if (effects === undefined) throw new UnboundEffectsError(this.machineName);
    return effects;
  }

  /** Binds `effects` to `actor`; call it before `actor.start()`. */
  bind<TActor extends object>(actor: TActor, effects: TEffects): TActor {
    this.byActor.set(actor, effects);
    return actor;
  }

  /** `provide(logic)`, computed once per machine definition (tests may pass their own definitions). */
  provideOnce<TLogic extends object>(logic: TLogic, provide: (logic: TLogic) => TLogic): TLogic {
    let provided = this.provided.get(logic) as TLogic | undefined;
    if (provided === undefined) {
      provided = provide(logic);
      this.provided.set(logic, provided);
    }
    return provided;
  }
}
