// dense_adapter's options (VLSM-Adapter's adapter kwargs, camelCase).
import { adapterOptionsSchema } from '../vlsm-adapter/common.js';

/** dense_adapter's options: adapterDim (yaml 64), adapterInV / adapterInL / adapterInCond (the experiments' v, vl, vlc). */
export const denseAdapterOptionsSchema = adapterOptionsSchema(64);
