export { canAdvanceSlots, desiredSlots, needsHotStandbyFeedback, slotNameOnPrimary, withSlotRequirements, type DesiredSlot, type NodeRole, type SlotNode } from './desired.js';
export { isIgnored, planSlots, sameSlot, type IgnoreMatcher, type SlotOp, type SlotPlan, type SlotPlanInput, type SlotRow } from './plan.js';
export { createSlotsIO, type SlotsIO, type SlotsIOOptions } from './io.js';
export { SlotKeeper, type SlotSettings } from './keeper.js';
