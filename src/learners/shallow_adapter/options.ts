// shallow_adapter's options (VLSM-Adapter's adapter kwargs, camelCase).
import { adapterOptionsSchema } from '../vlsm-adapter/common.js';

/** shallow_adapter's options: adapterDim (yaml 512), adapterInV / adapterInL / adapterInCond (the experiments' v, vl, vlc). */
export const shallowAdapterOptionsSchema = adapterOptionsSchema(512);
