"""ROS 2 layer: message conversion, parameters, QoS and timing around the ROS-free core."""
