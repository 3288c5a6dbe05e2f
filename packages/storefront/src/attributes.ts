/** On every slot root: the slot's name (shops' own tests and the QA team's automation find slots by it). */
export const SLOT_ATTRIBUTE = 'data-vitrine-slot';
/** On every card: the activity id it shows. */
export const CARD_ATTRIBUTE = 'data-vitrine-activity';

export const slotAttributes = (name: string): { [SLOT_ATTRIBUTE]: string } => ({ [SLOT_ATTRIBUTE]: name });
export const cardAttributes = (activityId: string): { [CARD_ATTRIBUTE]: string } => ({ [CARD_ATTRIBUTE]: activityId });
