// full_finetune's options: none.
import { z } from 'zod';

/** full_finetune has no options: it trains every weight of the base model. */
export const fullFinetuneOptionsSchema = z.object({}).strict();
