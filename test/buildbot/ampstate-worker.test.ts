/** The scenario list against an ampstate worker over AMP (the reference the stock worker is held to). */
import { defineScenarios } from './scenarios.js';

defineScenarios('ampstate', 'ampstate worker over AMP');
