"""The pose-estimator interface (poseflow_ros.pose.base) and the rename cuda_graphs -> cuda_graph.

Every attribute the pipeline and the node read has a default on PoseEstimator and is set by the
backends; the old argument / setting name cuda_graphs still works, with one warning.
"""

import warnings

import numpy as np
import pytest

from poseflow_ros import deprecation
from poseflow_ros.pipeline import PipelineConfig, PosePipeline
from poseflow_ros.pose import PoseEstimator
from poseflow_ros.types import Poses


class Minimal(PoseEstimator):
    def estimate(self, image_bgr, boxes):
        n = len(boxes)
        return Poses(np.zeros((n, 17, 2), np.float32), np.zeros((n, 17), np.float32))


@pytest.fixture
def fresh_warnings():
    """Forget which renames warned already (they warn once per process)."""
    saved = set(deprecation._warned)
    deprecation._warned.clear()
    yield
    deprecation._warned.clear()
    deprecation._warned.update(saved)


def test_interface_defaults_for_a_minimal_backend():
    p = Minimal()
    assert (p.name, p.device, p.runtime, p.crop_mode) == ('pose', 'cpu', 'torch', 'box')
    assert p.last_crop_ms == 0.0 and p.graphed_forward is None
    p.set_crop('temporal', 2, 'replicate', True)  # no alignment ROIs: keeps its box crops
    assert p.crop_mode == 'box'
    assert PosePipeline(None, p, None).roi_memory is None


def test_blazepose_sets_the_interface():
    from poseflow_ros.pose.blazepose_torch import BlazePoseEstimator

    est = BlazePoseEstimator(runtime='torch', crop_mode='temporal')
    assert (est.device, est.runtime, est.crop_mode) == ('cpu', 'torch', 'temporal')
    assert est.graphed_forward is not None and not est.graphed_forward.enabled  # CPU: no graphs
    assert PosePipeline(None, est, None).roi_memory is not None  # temporal crops: ROI memory
    est.set_crop('box')
    assert PosePipeline(None, est, None).roi_memory is None


def test_renamed_argument_warns_once(fresh_warnings):
    with pytest.warns(FutureWarning, match="'cuda_graphs' was renamed to 'cuda_graph'"):
        assert deprecation.renamed_argument(True, False, 'cuda_graphs', 'cuda_graph') is False
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # a second use does not warn again
        assert deprecation.renamed_argument(True, False, 'cuda_graphs', 'cuda_graph') is False
        assert deprecation.renamed_argument(True, None, 'cuda_graphs', 'cuda_graph') is True


def test_renamed_argument_both_names_disagreeing_is_an_error(fresh_warnings):
    with pytest.raises(ValueError, match=r'cuda_graphs=False .*cuda_graph=True disagree'):
        deprecation.renamed_argument(True, False, 'cuda_graphs', 'cuda_graph', default=False)
    with pytest.warns(FutureWarning):  # the new one at its default, or both the same: old is used
        assert deprecation.renamed_argument(
            False, True, 'cuda_graphs', 'cuda_graph', default=False
        )
    assert deprecation.renamed_argument(True, True, 'cuda_graphs', 'cuda_graph', default=False)


def test_pose_estimator_rejects_both_names(model_file):
    from poseflow_ros.pose import make_pose_estimator

    with pytest.raises(ValueError, match='disagree'):
        make_pose_estimator('blazepose', cuda_graph=True, cuda_graphs=False)


def test_pipeline_config_accepts_the_old_name(fresh_warnings):
    with pytest.warns(FutureWarning, match='cuda_graph'):
        cfg = PipelineConfig.from_dict({'cuda_graphs': False})
    assert cfg.cuda_graph is False and 'cuda_graphs' not in cfg.to_dict()
    assert (
        PipelineConfig.from_dict({'cuda_graphs': False, 'cuda_graph': False}).cuda_graph is False
    )
    with pytest.raises(ValueError, match='disagree'):
        PipelineConfig.from_dict({'cuda_graphs': False, 'cuda_graph': True})
    with pytest.raises(ValueError, match='cuda_graph must be true or false'):
        PipelineConfig.from_dict({'cuda_graphs': 'yes'})
    cfg.cuda_graphs = True  # attribute access by the old name too
    assert cfg.cuda_graph is True and cfg.cuda_graphs is True


def test_backend_factory_accepts_the_old_argument(fresh_warnings):
    from poseflow_ros.pose import make_pose_estimator

    with pytest.warns(FutureWarning, match='cuda_graph'):
        est = make_pose_estimator('blazepose', runtime='torch', cuda_graphs=False)
    assert not est.graphed_forward.enabled


def test_heatmap_refine_is_part_of_the_interface():
    """Every backend takes set_heatmap_refine; one without heatmaps ignores it."""
    from poseflow_ros.pose.base import PoseEstimator

    assert 'set_heatmap_refine' in vars(PoseEstimator)

    class Boxes(PoseEstimator):
        def estimate(self, image_bgr, boxes):
            raise NotImplementedError

    p = Boxes()
    p.set_heatmap_refine(True)  # the default: no heatmaps, nothing changes
    assert p.crop_mode == 'box'
