import { DEFAULT_DETECTION_OPTIONS, resolveDetectionOptions } from '../../../../core/detection/detector';

describe('detection options', () => {
  it('default to score ≥ 0.3, at most 10 boxes, class-agnostic suppression above IoU 0.5', () => {
    expect(DEFAULT_DETECTION_OPTIONS).toEqual({ scoreThreshold: 0.3, maxDetections: 10, iouThreshold: 0.5, classAgnostic: true });
    expect(resolveDetectionOptions({ maxDetections: 3 })).toEqual({ ...DEFAULT_DETECTION_OPTIONS, maxDetections: 3 });
  });

  it('refuse bad values with one 400 listing each', () => {
    expect(() => resolveDetectionOptions({ scoreThreshold: 1.5, maxDetections: 0, classAgnostic: 'yes' as unknown as boolean })).toThrow(
      expect.objectContaining({ status: 400, code: 'invalid_detection_options', message: expect.stringMatching(/scoreThreshold.*maxDetections.*classAgnostic/s) }),
    );
    expect(() => resolveDetectionOptions({ nms: 'soft' } as never)).toThrow(expect.objectContaining({ code: 'invalid_detection_options' }));
  });
});
