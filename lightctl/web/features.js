// The console's optional features, one import each (see extend.js for how a feature registers
// its panel and map layer). Add a line here for a new feature module; keep them sorted.
import './cap_suggestions.js';
import './coverage_plan.js';
import './guidance.js';
