/** The harness uses the service's own region helpers (one definition): core/localization/regions.ts. */
export { gridBoxes, iou, padBox, rescale, scdaRegions, type Region, type ScdaOptions } from '../../core/localization/regions';
